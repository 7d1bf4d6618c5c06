// Every environment variable UsageGraph reads, in one validated schema (zod), read once per process. A bad value stops
// the start naming the variable, the value and what is accepted, instead of silently meaning something else.
import { z } from 'zod';
import { SUBGRAPH_NAMES, subgraphUrlEnv } from './subgraph-names';

/**
 * One setting: how its text is checked and converted, what a person may write, the value used when it is unset
 * (`fallback`, itself checked) or how the default is described (`shown`), and what it does.
 */
interface Setting<T, HasFallback extends boolean = boolean> {
  schema: z.ZodType<T, string>;
  accepted: string;
  fallback?: string;
  shown?: string;
  meaning: string;
  group: Group;
  hasFallback: HasFallback;
}
type Spec<T> = Omit<Setting<T>, 'hasFallback' | 'fallback'>;

type Group = 'database' | 'launcher' | 'network' | 'security' | 'workers' | 'erp' | 'kafka' | 'observability' | 'tools';

/** A setting with a value when unset. */
const withDefault = <T>(fallback: string, s: Spec<T>): Setting<T, true> => ({ ...s, fallback, hasFallback: true });
/** A setting that may stay unset. */
const optional = <T>(s: Spec<T>): Setting<T, false> => ({ ...s, hasFallback: false });

/** A whole number in [min, max], written in decimal digits. */
const whole = (min: number, max: number) =>
  z.string().regex(/^\d+$/).transform(Number).pipe(z.number().int().min(min).max(max));
const milliseconds = (min: number, max: number, meaning: string, group: Group, fallback: number) =>
  withDefault(String(fallback), {
    schema: whole(min, max),
    accepted: `whole milliseconds from ${min} to ${max}`,
    meaning,
    group,
  });
const count = (min: number, max: number, meaning: string, group: Group, fallback: number) =>
  withDefault(String(fallback), {
    schema: whole(min, max),
    accepted: `a whole number from ${min} to ${max}`,
    meaning,
    group,
  });
const httpUrl = z.url({ protocol: /^https?$/ });
const text = z.string().min(1);
const flag = z.enum(['0', '1']).transform((v) => v === '1');

const subgraphUrls = Object.fromEntries(
  SUBGRAPH_NAMES.map((name) => [
    subgraphUrlEnv(name),
    optional({
      schema: httpUrl,
      accepted: 'an http(s) URL of the GraphQL endpoint',
      meaning: `Where the gateway and the other subgraphs find the ${name} subgraph (npm start sets an address book instead)`,
      group: 'network',
    }),
  ]),
) as Record<`SUBGRAPH_URL_${string}`, Setting<string, false>>;

export const SETTINGS = {
  MONGODB_URI: optional({
    schema: z.string().regex(/^mongodb(\+srv)?:\/\/\S+$/),
    accepted: 'a MongoDB connection string (mongodb://… or mongodb+srv://…)',
    meaning: 'Use this MongoDB (replica set, Atlas, …) instead of the embedded database',
    group: 'database',
  }),
  USAGEGRAPH_DB_PREFIX: withDefault('usagegraph', {
    schema: z.string().regex(/^[A-Za-z0-9_]{1,40}$/),
    accepted: 'letters, digits and _ (at most 40)',
    meaning: 'Database names are `<prefix>_<subgraph>`',
    group: 'database',
  }),
  USAGEGRAPH_DB_QUERY_TIME_LIMIT_MS: milliseconds(100, 600_000, 'maxTimeMS of every database read', 'database', 30_000),
  USAGEGRAPH_DB_SLOW_QUERY_MS: optional({
    schema: whole(1, 600_000),
    accepted: 'whole milliseconds from 1 to 600000',
    shown: 'off',
    meaning:
      'Log every database command that takes at least this long, with its shape (collection, filter fields and operators, sort, limit) and duration, never its values',
    group: 'database',
  }),
  USAGEGRAPH_CPU_PROFILE_DIR: optional({
    schema: text,
    accepted: 'a folder path',
    shown: 'off',
    meaning:
      "Profiling: every Node process the launcher starts writes a V8 CPU profile there when it stops (node --cpu-prof; open it in Chrome's DevTools)",
    group: 'database',
  }),
  USAGEGRAPH_QUERY_SHAPES_DIR: optional({
    schema: text,
    accepted: 'a folder path',
    shown: 'off',
    meaning:
      'Tests only: every process records each distinct query shape it sends (with one example) to `<folder>/<pid>.jsonl`, for the query-plan test',
    group: 'database',
  }),

  USAGEGRAPH_DATA_DIR: optional({
    schema: text,
    accepted: 'a folder path',
    shown: './data',
    meaning: 'Embedded database files, ledger journal, logs, run state',
    group: 'launcher',
  }),
  USAGEGRAPH_CACHE_DIR: optional({
    schema: text,
    accepted: 'a folder path',
    shown: '$XDG_CACHE_HOME/usagegraph',
    meaning: 'Where the FerretDB binary is built and the Kafka jars are resolved once',
    group: 'launcher',
  }),
  XDG_CACHE_HOME: optional({
    schema: text,
    accepted: 'a folder path',
    shown: '~/.cache',
    meaning: 'The user cache folder, under which the cache lives when USAGEGRAPH_CACHE_DIR is not set',
    group: 'launcher',
  }),
  USAGEGRAPH_READY_TIMEOUT_MS: milliseconds(
    1_000,
    3_600_000,
    'How long the launcher waits for each process (database, ledger, services) to answer ready',
    'launcher',
    180_000,
  ),
  USAGEGRAPH_CONSOLE_DIR: optional({
    schema: text,
    accepted: 'a folder path',
    shown: 'a folder per console build under the cache',
    meaning: 'Where the built finance console and GraphQL explorer are kept and served from',
    group: 'launcher',
  }),
  USAGEGRAPH_DEMO: withDefault('on', {
    schema: z.enum(['on', 'off']),
    accepted: '`on` or `off`',
    meaning: '`off` skips loading demo data on `npm start`',
    group: 'launcher',
  }),
  USAGEGRAPH_LOG_FILE_SIZE: withDefault('20m', {
    schema: z.string().regex(/^\d+[kmg]?$/),
    accepted: 'a size such as 500k, 20m or 1g',
    meaning: 'Each process logs to `<data>/logs/<name>/<name>.<n>.log` (mode 0600), rolled at this size',
    group: 'launcher',
  }),
  USAGEGRAPH_LOG_FILES_KEPT: count(
    1,
    1_000,
    'How many rolled log files are kept beside the current one',
    'launcher',
    4,
  ),
  USAGEGRAPH_INSTANCE_ID: optional({
    schema: z.string().regex(/^[A-Za-z0-9._:-]{1,100}$/),
    accepted: 'letters, digits and . _ : - (at most 100)',
    shown: 'a random id',
    meaning: 'Set by the launcher: the id a child reports in `/ready`, so the launcher knows it is its own child',
    group: 'launcher',
  }),
  USAGEGRAPH_RUN_DIR: optional({
    schema: text,
    accepted: 'a folder path',
    meaning: 'Set by the launcher: where a child reports the port it bound',
    group: 'launcher',
  }),
  USAGEGRAPH_PORT_FALLBACK: withDefault('0', {
    schema: flag,
    accepted: '0 or 1',
    meaning: 'Set by the launcher: 1 lets a child take any free port when PORT is taken',
    group: 'launcher',
  }),
  USAGEGRAPH_STOP_WITH_PARENT: withDefault('0', {
    schema: flag,
    accepted: '0 or 1',
    meaning: 'Set by the launcher: 1 makes a child stop when the launcher is gone',
    group: 'launcher',
  }),
  USAGEGRAPH_REPLICAS: count(
    1,
    16,
    '`npm start` runs this many processes of every subgraph; the gateway and the subgraphs spread their calls over them',
    'launcher',
    1,
  ),
  USAGEGRAPH_ADDRESS_BOOK: optional({
    schema: text,
    accepted: 'a file path',
    meaning:
      'Set by the launcher: the file naming where each subgraph (each of its replicas) listens now (SUBGRAPH_URL_<NAME> wins over it)',
    group: 'launcher',
  }),

  PORT: optional({
    schema: whole(0, 65_535),
    accepted: 'a port from 0 (any free port) to 65535',
    shown: '4000 gateway, 4001–4007 subgraphs',
    meaning: "The gateway's port for `npm start`; a service's own port when run alone",
    group: 'network',
  }),
  HOST: withDefault('127.0.0.1', {
    schema: text,
    accepted: 'an interface address such as 127.0.0.1 or 0.0.0.0',
    meaning: 'The interface a service listens on',
    group: 'network',
  }),
  ...subgraphUrls,
  USAGEGRAPH_SUBGRAPH_TIMEOUT_MS: milliseconds(
    100,
    3_600_000,
    'Gateway → subgraph and subgraph → subgraph timeout (Apollo Gateway has none of its own)',
    'network',
    30_000,
  ),
  USAGEGRAPH_HIVE_PLANNER: withDefault('javascript', {
    schema: z.enum(['javascript', 'rust']),
    accepted: '`javascript` or `rust`',
    meaning:
      "Hive Gateway (gateway/hive/serve.ts) only: `rust` plans with Hive Router's Rust planner (@graphql-hive/router-runtime)",
    group: 'network',
  }),
  USAGEGRAPH_DEDUPE_QUERIES: withDefault('true', {
    schema: z.enum(['true', 'false']).transform((v) => v === 'true'),
    accepted: '`true` or `false`',
    meaning:
      'Identical subgraph queries in flight at once (same subgraph, caller and body) are sent once; mutations never',
    group: 'network',
  }),
  USAGEGRAPH_BODY_LIMIT: withDefault('32mb', {
    schema: z.string().regex(/^\d+(b|kb|mb|gb)?$/i),
    accepted: 'a size such as 512kb or 32mb',
    meaning: 'Larger request bodies get a 413 that names the limit',
    group: 'network',
  }),

  USAGEGRAPH_INTERNAL_SECRET: optional({
    schema: z.string().regex(/^[0-9a-fA-F]{64,}$/),
    accepted: 'at least 64 hex characters (32 random bytes)',
    meaning: 'The secret subgraphs sign and check requests with (npm start generates one in the data folder)',
    group: 'security',
  }),
  USAGEGRAPH_INTERNAL_SECRET_FILE: optional({
    schema: text,
    accepted: 'a file path',
    meaning: 'A file holding the internal secret, instead of USAGEGRAPH_INTERNAL_SECRET',
    group: 'security',
  }),
  USAGEGRAPH_METRICS_TOKEN: optional({
    schema: z.string().min(16),
    accepted: 'at least 16 characters',
    shown: 'none: loopback only',
    meaning: '`/metrics` answers remote scrapers that send `Authorization: Bearer <token>`',
    group: 'security',
  }),
  USAGEGRAPH_CREDENTIAL_CACHE_MS: milliseconds(
    0,
    3_600_000,
    'How long the gateway trusts a looked-up API key; a revocation takes effect within this',
    'security',
    30_000,
  ),
  USAGEGRAPH_OIDC_ISSUER: optional({
    schema: httpUrl,
    accepted: 'the issuer URL of an OpenID Connect provider',
    shown: 'none: API keys only',
    meaning: 'Accept JWTs from this issuer',
    group: 'security',
  }),
  USAGEGRAPH_OIDC_JWKS_URL: optional({
    schema: httpUrl,
    accepted: 'an http(s) URL',
    shown: '<issuer>/.well-known/jwks.json',
    meaning: "The issuer's signing keys",
    group: 'security',
  }),
  USAGEGRAPH_OIDC_AUDIENCE: optional({
    schema: text,
    accepted: 'a non-empty audience',
    shown: 'not checked',
    meaning: 'The audience a JWT must name',
    group: 'security',
  }),
  USAGEGRAPH_OIDC_ROLES_CLAIM: withDefault('roles', {
    schema: text,
    accepted: 'a claim name',
    meaning: 'The JWT claim that lists the caller’s roles',
    group: 'security',
  }),
  USAGEGRAPH_INTROSPECTION: withDefault('platform', {
    schema: z.enum(['platform', 'all']),
    accepted: '`platform` or `all`',
    meaning: 'Who may introspect the schema (`all` only in development)',
    group: 'security',
  }),

  USAGEGRAPH_SCHEMA_DIR: optional({
    schema: text,
    accepted: 'a folder path',
    shown: 'schema/',
    meaning: 'Where the gateway reads the supergraph and contracts (reloaded when they change)',
    group: 'network',
  }),
  USAGEGRAPH_SCHEMA_POLL_MS: milliseconds(
    50,
    3_600_000,
    'How often the gateway looks for a new supergraph',
    'network',
    2_000,
  ),
  USAGEGRAPH_OPERATION_FLUSH_MS: milliseconds(
    50,
    3_600_000,
    'How often the gateway writes its operation record',
    'workers',
    10_000,
  ),
  USAGEGRAPH_OPERATION_RETENTION_DAYS: count(1, 3_650, 'Days the operation record is kept', 'workers', 90),
  USAGEGRAPH_OUTBOX_POLL_MS: milliseconds(
    50,
    3_600_000,
    'How often business events are handed to the events subgraph',
    'workers',
    1_000,
  ),
  USAGEGRAPH_METRICS_CACHE_MS: milliseconds(
    0,
    3_600_000,
    'How long queue gauges are cached between scrapes',
    'observability',
    10_000,
  ),
  USAGEGRAPH_JOB_LEASE_MS: milliseconds(
    500,
    3_600_000,
    "A job runner's lease; a crashed run is resumed after it",
    'workers',
    30_000,
  ),
  USAGEGRAPH_JOB_POLL_MS: milliseconds(
    50,
    3_600_000,
    'How often workers look for jobs to run or resume',
    'workers',
    2_000,
  ),
  USAGE_RELEASE_MS: milliseconds(50, 3_600_000, 'How often held usage events are rechecked', 'workers', 5_000),
  USAGE_AGGREGATE_KEEPER_MS: milliseconds(
    0,
    3_600_000,
    'How often aggregates with new events are brought up to date in the background, so their first read is cheap; `0` turns the keeper off (ingestion then requests no refreshes)',
    'workers',
    1_000,
  ),
  PRICING_RECHECK_MS: milliseconds(50, 3_600_000, 'How often held ratings are rechecked', 'workers', 10_000),
  CREDIT_EXPIRY_MS: milliseconds(
    50,
    3_600_000,
    'How often prepaid credit past its expiry is closed and posted',
    'workers',
    60_000,
  ),
  PRICING_RUN_PAGE_SIZE: count(1, 10_000, 'Subscriptions per checkpoint of a billing run', 'workers', 500),
  USAGEGRAPH_WEBHOOK_MAX_ATTEMPTS: count(1, 100, 'Webhook delivery attempts before a dead letter', 'workers', 8),
  USAGEGRAPH_WEBHOOK_RETRY_BASE_MS: milliseconds(
    1,
    86_400_000,
    'First webhook retry delay (then doubling)',
    'workers',
    2_000,
  ),
  USAGEGRAPH_WEBHOOK_RETRY_MAX_MS: milliseconds(1, 86_400_000, 'Longest webhook retry delay', 'workers', 3_600_000),
  USAGEGRAPH_WEBHOOK_TIMEOUT_MS: milliseconds(100, 300_000, 'How long a webhook receiver may take', 'workers', 10_000),
  USAGEGRAPH_WEBHOOK_POLL_MS: milliseconds(
    50,
    3_600_000,
    'How often due webhook deliveries are looked for',
    'workers',
    1_000,
  ),

  ERP_HLEDGER_URL: optional({
    schema: httpUrl,
    accepted: 'the http(s) URL of an hledger-web server',
    shown: 'set by npm start',
    meaning: 'The ERP: an hledger-web server (wins over ERP_JOURNAL_FILE)',
    group: 'erp',
  }),
  ERP_JOURNAL_FILE: optional({
    schema: text,
    accepted: 'a file path',
    meaning: 'The ERP: an hledger journal file appended directly',
    group: 'erp',
  }),
  ERP_MAX_ATTEMPTS: count(1, 100, 'Delivery attempts of a posting before it is dead-lettered', 'erp', 8),
  ERP_RETRY_BASE_MS: milliseconds(1, 86_400_000, 'First posting retry delay (then doubling)', 'erp', 2_000),
  ERP_RETRY_MAX_MS: milliseconds(1, 86_400_000, 'Longest posting retry delay', 'erp', 300_000),
  ERP_LEASE_MS: milliseconds(
    1_000,
    3_600_000,
    "A sender's claim on a posting; after it another may resend",
    'erp',
    60_000,
  ),
  ERP_BATCH_TIMINGS: withDefault('0', {
    schema: flag,
    accepted: '0 or 1',
    meaning:
      '1 makes each posting batch and each finalizeInvoices bulk pass log how long its steps took (warn level), for bench:post',
    group: 'erp',
  }),
  RATING_TIMINGS: withDefault('0', {
    schema: flag,
    accepted: '0 or 1',
    meaning: '1 makes each page of a billing run log how long its steps took (warn level), for bench:rate',
    group: 'workers',
  }),
  ERP_POLL_MS: milliseconds(50, 3_600_000, "The posting worker's poll", 'erp', 1_000),
  USAGEGRAPH_RECORD_LOCK_SWEEP_MS: milliseconds(
    1_000,
    86_400_000,
    'How often each subgraph deletes record-lock claims released over an hour ago and followed by a later claim',
    'workers',
    600_000,
  ),
  ERP_HELD_RECHECK_MS: milliseconds(
    50,
    3_600_000,
    'How often postings held for a missing mapping or an unknown ERP customer are rechecked',
    'erp',
    15_000,
  ),
  REVENUE_RECOGNITION_POLL_MS: milliseconds(
    50,
    86_400_000,
    'How often due revenue recognition (deferred fees, by month) is posted',
    'erp',
    60_000,
  ),
  HLEDGER_TIMEOUT_MS: milliseconds(100, 600_000, 'How long hledger-web may take to answer', 'erp', 15_000),

  USAGEGRAPH_KAFKA_BROKERS: optional({
    schema: z.union([z.literal('embedded'), z.string().regex(/^\s*[^\s,:]+:\d+\s*(,\s*[^\s,:]+:\d+\s*)*$/)]),
    accepted: '`embedded` (npm start runs a local KRaft broker) or host:port[,host:port…]',
    shown: 'off',
    meaning: 'Consume usage CloudEvents from Kafka (a usage-kafka worker)',
    group: 'kafka',
  }),
  USAGEGRAPH_KAFKA_TOPICS: withDefault('usage-events', {
    schema: z.string().regex(/^\s*[A-Za-z0-9._-]+\s*(,\s*[A-Za-z0-9._-]+\s*)*$/),
    accepted: 'topic names separated by commas',
    meaning: 'The topics consumed',
    group: 'kafka',
  }),
  USAGEGRAPH_KAFKA_GROUP: withDefault('usagegraph-usage', {
    schema: z.string().regex(/^[A-Za-z0-9._-]{1,200}$/),
    accepted: 'letters, digits and . _ -',
    meaning: 'The consumer group (every worker of one system shares it)',
    group: 'kafka',
  }),
  USAGEGRAPH_KAFKA_CLIENT_ID: withDefault('usagegraph-usage', {
    schema: z.string().regex(/^[A-Za-z0-9._-]{1,200}$/),
    accepted: 'letters, digits and . _ -',
    meaning: "The worker's client id towards the brokers",
    group: 'kafka',
  }),

  LOG_LEVEL: withDefault('info', {
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    accepted: 'fatal, error, warn, info, debug, trace or silent',
    meaning: 'pino level; logs are JSON lines with `service` and `correlationId`',
    group: 'observability',
  }),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: optional({
    schema: httpUrl,
    accepted: 'an http(s) URL (OTLP/HTTP traces)',
    shown: 'off',
    meaning: 'Export traces here',
    group: 'observability',
  }),
  OTEL_EXPORTER_OTLP_ENDPOINT: optional({
    schema: httpUrl,
    accepted: 'an http(s) URL (OTLP/HTTP; /v1/traces is added)',
    shown: 'off',
    meaning: 'Export traces to this collector when the traces endpoint is not set',
    group: 'observability',
  }),
  OTEL_SERVICE_NAME: optional({
    schema: text,
    accepted: 'a service name',
    shown: 'usagegraph-<service>',
    meaning: "The traces' service.name",
    group: 'observability',
  }),

  USAGEGRAPH_GATEWAY_URL: optional({
    schema: httpUrl,
    accepted: "the gateway's http(s) GraphQL URL",
    shown: 'the running npm start',
    meaning: '`npm run usage-types:apply`: the gateway to apply to',
    group: 'tools',
  }),
  USAGEGRAPH_API_KEY: optional({
    schema: text,
    accepted: 'an API key',
    meaning: '`npm run usage-types:apply`: the key it acts with',
    group: 'tools',
  }),
  USAGEGRAPH_SCHEMA_CHECK_DAYS: count(
    0,
    3_650,
    '`npm run schema:check`: days of operation record a breaking change is checked against',
    'tools',
    30,
  ),
};

type Settings = typeof SETTINGS;
/** The settings, converted: one with a default always has a value, the others may be unset. */
export type Config = {
  [K in keyof Settings]: Settings[K] extends Setting<infer T, true>
    ? T
    : Settings[K] extends Setting<infer T, false>
      ? T | undefined
      : never;
};

export class ConfigurationError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `the configuration is not valid:\n${problems.map((p) => `  - ${p}`).join('\n')}\n` +
        'Fix these environment variables (the README’s Configuration table lists them all) and start again.',
    );
    this.name = 'ConfigurationError';
  }
}

/** Reads and checks every setting from `env`; unset or empty means the default. Throws naming every bad one. */
export function readConfig(env: NodeJS.ProcessEnv): Config {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(SETTINGS) as Array<[string, Setting<unknown>]>) {
    const raw = env[name];
    const given = raw !== undefined && raw !== '';
    const source = given ? raw : s.fallback;
    if (source === undefined) continue;
    const parsed = s.schema.safeParse(source);
    if (parsed.success) out[name] = parsed.data;
    else problems.push(`${name}=${JSON.stringify(raw)} is not accepted: expected ${s.accepted} (${s.meaning})`);
  }
  if (problems.length > 0) throw new ConfigurationError(problems);
  return out as Config;
}

let current: Config | undefined;
let source: NodeJS.ProcessEnv | undefined;

/** This process's configuration, read from its environment the first time it is asked for. */
export function config(): Config {
  source ??= { ...process.env };
  return (current ??= readConfig(source));
}

/**
 * Reads the environment again. Only for tests that run services inside their own process with an environment of
 * their own (they change process.env, start the service, and put it back); a service process reads it once.
 */
export function reloadConfig(): Config {
  current = undefined;
  source = undefined;
  return config();
}

/** Whether the environment sets this variable itself (rather than its default applying). */
export function isConfigured(name: keyof Config): boolean {
  config();
  return source![name] !== undefined && source![name] !== '';
}

/** The README table: every setting, its default, what is accepted and what it does. */
export function configurationTable(): string {
  const rows = (Object.entries(SETTINGS) as Array<[string, Setting<unknown>]>).map(
    ([name, s]) => `| \`${name}\` | ${s.fallback ?? s.shown ?? '—'} | ${s.accepted} | ${s.meaning} |`,
  );
  return ['| Variable | Default | Accepted | Meaning |', '|---|---|---|---|', ...rows].join('\n');
}
