// Fields that once were free strings are enums now: each enum lists exactly the values its store writes.
import { parse, type EnumTypeDefinitionNode } from 'graphql';
import { subgraphSdl } from '../lib/schema-files';
import type { SubgraphName } from '../lib/topology';
import { POSTING_ERROR_KINDS, POSTING_OUTCOMES } from '../subgraphs/erp-postings/store';
import { ADJUSTMENT_STATUSES } from '../subgraphs/invoices/store';
import { JOB_STATUSES } from '../lib/jobs';
import { HOLD_REASONS } from '../subgraphs/usage/store';
import { SCHEMA_CHANGE_KINDS } from '../subgraphs/usage/usage-type';

function enumValues(subgraph: SubgraphName, name: string): string[] {
  const definition = parse(subgraphSdl(subgraph)).definitions.find(
    (d): d is EnumTypeDefinitionNode => d.kind === 'EnumTypeDefinition' && d.name.value === name,
  );
  if (!definition) throw new Error(`enum ${name} is not in the ${subgraph} schema`);
  return (definition.values ?? []).map((v) => v.name.value);
}

it.each([
  ['usage', 'SchemaChangeKind', 'SchemaChange.kind', SCHEMA_CHANGE_KINDS],
  ['usage', 'UsageExceptionCode', 'UsageException.code', HOLD_REASONS],
  ['invoices', 'RatingAdjustmentStatus', 'RatingAdjustment.status', ADJUSTMENT_STATUSES],
  ['pricing', 'JobStatus', 'BillingRunJob.status', JOB_STATUSES],
  ['erp-postings', 'PostingErrorKind', 'PostingError.kind', POSTING_ERROR_KINDS],
  ['erp-postings', 'PostingOutcome', 'PostingAttempt.outcome', POSTING_OUTCOMES],
] as const)('%s %s (%s) lists every value the store writes, and no other', (subgraph, name, field, written) => {
  expect(enumValues(subgraph, name).sort()).toEqual([...written].sort());
  const [type, fieldName] = field.split('.');
  const fieldType = parse(subgraphSdl(subgraph))
    .definitions.flatMap((d) => (d.kind === 'ObjectTypeDefinition' && d.name.value === type ? (d.fields ?? []) : []))
    .find((f) => f.name.value === fieldName)?.type;
  expect(fieldType?.kind === 'NonNullType' && fieldType.type.kind === 'NamedType' && fieldType.type.name.value).toBe(
    name,
  );
});
