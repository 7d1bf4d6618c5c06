import { SUBGRAPH_NAMES } from '../lib/topology';
import { generateResolverTypes, generatedPath, staleFiles } from './codegen';

describe('the generated resolver types', () => {
  let files: Record<string, string>;
  beforeAll(async () => {
    files = await generateResolverTypes();
  });

  it('are generated for every subgraph, typed for federation', () => {
    expect(Object.keys(files).sort()).toEqual(SUBGRAPH_NAMES.map(generatedPath).sort());
    for (const content of Object.values(files)) {
      expect(content).toContain('export type Resolvers<ContextType = Context>');
      expect(content).toContain('__resolveReference?: ReferenceResolver<');
    }
  });

  it('are generated the same way every time', async () => {
    expect(await generateResolverTypes()).toEqual(files);
  });

  it('are committed as generated (run `npm run codegen` after changing a subgraph schema)', () => {
    expect(staleFiles(files)).toEqual([]);
  });
});
