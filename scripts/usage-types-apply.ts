// `npm run usage-types:apply`: registers and activates the usage types declared in schema/usage-types/ through the
// graph, as USAGEGRAPH_API_KEY (a product or platform key), at USAGEGRAPH_GATEWAY_URL (the local gateway by default).
// Idempotent; records what it applied in schema/usage-types/applied.json, which the team commits.
import { applyUsageTypes } from '../contracts/usage-type-files';
import { mustGraphql } from '../runtime/graph-client';
import { DEFAULT_PORTS } from '../lib/topology';
import { runningSystemState } from '../runtime/system-state';

async function main(): Promise<void> {
  const gatewayUrl =
    process.env.USAGEGRAPH_GATEWAY_URL ??
    runningSystemState()?.gatewayUrl ??
    `http://127.0.0.1:${DEFAULT_PORTS.gateway}/graphql`;
  const credential = process.env.USAGEGRAPH_API_KEY;
  if (!credential) {
    console.error('set USAGEGRAPH_API_KEY to a product (or platform) API key; npm start prints a platform key');
    process.exit(2);
  }
  const results = await applyUsageTypes({
    graphql: (query, variables) =>
      mustGraphql(gatewayUrl, query, variables, { credential, correlationId: `usage-types-apply-${Date.now()}` }),
  });
  for (const r of results) console.log(`${r.outcome.padEnd(10)} ${r.key} ${r.version} (${r.status})`);
  console.log(
    `${results.filter((r) => r.outcome === 'REGISTERED').length} registered, ${results.filter((r) => r.outcome === 'UNCHANGED').length} unchanged`,
  );
}

main().catch((error) => {
  console.error((error as Error).message);
  process.exit(1);
});
