// Hive Gateway's runtime, typed by hand for the few hooks and options we use: its own declarations reference the DOM
// library (through @whatwg-node/fetch), which would retype fetch, Response and Buffer bodies for the whole project.
import type { RequestListener } from 'node:http';
import type { ExecutionArgs, ExecutionResult } from 'graphql';

/** The Yoga, Envelop and Hive hooks our plugins use (each a subset of the hook's real payload). */
export interface HivePlugin {
  /** Before anything reads the request; `endResponse` answers without GraphQL running. */
  onRequest?(payload: {
    request: Request;
    url: URL;
    fetchAPI: { Response: typeof Response };
    endResponse(response: Response): void;
  }): Promise<void> | void;
  /** While the GraphQL context is built: what `extendContext` adds is what resolvers and `onFetch` see. */
  onContextBuilding?(payload: { context: { request: Request }; extendContext(extension: object): void }): void;
  /** After validation, before execution: `setResultAndStopExecution` answers instead. */
  onExecute?(payload: { args: ExecutionArgs; setResultAndStopExecution(result: ExecutionResult): void }): void;
  /** Each request to a subgraph; `setOptions` replaces what is sent. `context` is absent outside a client request. */
  onFetch?(payload: {
    url: string;
    options: RequestInit;
    setOptions(options: RequestInit): void;
    context?: Record<string, unknown>;
  }): void;
  onResponse?(payload: { request: Request; response: Response }): void;
}

export interface HiveGatewayConfig {
  /** The supergraph SDL (or a path to it). */
  supergraph: string;
  transports: Record<string, unknown>;
  /** Per subgraph (by its name in `@join__graph`): where it is and how to call it. */
  transportEntries: Record<string, { location: string; options?: Record<string, unknown> }>;
  plugins(): HivePlugin[];
  graphqlEndpoint: string;
  upstreamCancellation: boolean;
  multipart: boolean;
  landingPage: boolean;
  graphiql: boolean;
  logging: 'debug' | 'info' | 'warn' | 'error' | boolean;
  /** Replaces the planner and executor (Hive Router's Rust planner from @graphql-hive/router-runtime). */
  unifiedGraphHandler?: unknown;
}

export type HiveGatewayRuntime = RequestListener & { dispose(): Promise<void> };

export const { createGatewayRuntime } = require('@graphql-hive/gateway-runtime') as {
  createGatewayRuntime(config: HiveGatewayConfig): HiveGatewayRuntime;
};
