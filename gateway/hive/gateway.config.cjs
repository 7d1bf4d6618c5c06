// For the Hive Gateway CLI: `hive-gateway supergraph schema/supergraph.graphql -c gateway/hive/gateway.config.cjs`.
// CommonJS with tsx's hook, because the CLI would load a .ts config as an ES module and our modules are CommonJS.
require('tsx/cjs');
const { hiveGatewayConfig } = require('./config.ts');

// The supergraph comes from the command line; everything else is ours.
const { supergraph: _supergraph, ...gatewayConfig } = hiveGatewayConfig();
module.exports = { gatewayConfig };
