// Records the shape of every query a process sends (collection, filter with values replaced by their kind, sort,
// limit) with one concrete example of each, so test/query-plans.test.ts can ask the database for each one's plan.
// Off unless USAGEGRAPH_QUERY_SHAPES_DIR is set (the test system sets it); never on in production by default.
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { BSON, type CommandStartedEvent, type Document, type MongoClient } from 'mongodb';

/** One query as the database saw it: what the plan depends on, and one example of it with its values. */
export interface QueryShape {
  /** The command that carried it: find, aggregate, count, distinct, update, delete, findAndModify. */
  command: string;
  database: string;
  collection: string;
  /** The filter with each value replaced by its kind (`"str"`, `["str"]`, `"date"`…). */
  filter: Document;
  sort?: Document;
  /** Whether a limit was set (a page), not its value. */
  limited: boolean;
  /** The stages after the leading $match of an aggregate, by name. */
  stages?: string[];
}

export interface RecordedQuery extends QueryShape {
  /** A stable text of the shape, to tell shapes apart. */
  key: string;
  /** One concrete query of this shape, as extended JSON: {filter, sort?, limit?, pipeline?}. */
  example: string;
}

/** The kind of a value, as far as a query plan can depend on it. */
function kindOf(value: unknown): unknown {
  if (value === null) return 'null';
  if (Array.isArray(value)) return [...new Set(value.map((v) => JSON.stringify(kindOf(v))))].sort().map(parseKind);
  if (value instanceof Date) return 'date';
  if (value instanceof RegExp || (value as { _bsontype?: string })?._bsontype === 'BSONRegExp') return 'regex';
  const bsonType = (value as { _bsontype?: string })?._bsontype;
  if (bsonType) return bsonType.toLowerCase();
  switch (typeof value) {
    case 'string':
      return 'str';
    case 'number':
    case 'bigint':
      return 'num';
    case 'boolean':
      return 'bool';
    case 'object':
      return shapeOfFilter(value as Document);
    default:
      return typeof value;
  }
}
const parseKind = (text: string): unknown => JSON.parse(text) as unknown;

/** A filter with every value replaced by its kind; operators and field names are kept. */
export function shapeOfFilter(filter: Document | undefined): Document {
  const out: Document = {};
  for (const [key, value] of Object.entries(filter ?? {})) {
    // An operator-free sub-document compared whole (e.g. {period: {start, end}}) is a value, not a sub-filter.
    const isDocument =
      value !== null && typeof value === 'object' && !Array.isArray(value) && !(value as Document)._bsontype;
    if (isDocument && !(value instanceof Date) && !(value instanceof RegExp)) {
      const keys = Object.keys(value as Document);
      out[key] = keys.length > 0 && keys.every((k) => k.startsWith('$')) ? shapeOfFilter(value as Document) : 'doc';
    } else if (key === '$and' || key === '$or' || key === '$nor') {
      out[key] = (value as Document[]).map((part) => shapeOfFilter(part));
    } else {
      out[key] = kindOf(value);
    }
  }
  return out;
}

/** Long $in lists keep their first values: the plan does not depend on how many there are. */
function trimmed(value: unknown): unknown {
  if (Array.isArray(value)) return value.slice(0, 20).map(trimmed);
  if (value && typeof value === 'object' && !(value as Document)._bsontype && !(value instanceof Date)) {
    if (value instanceof RegExp) return value;
    return Object.fromEntries(Object.entries(value as Document).map(([k, v]) => [k, trimmed(v)]));
  }
  return value;
}

/** The driver sends a sort as a Map, which JSON would turn into `{}`. */
const sortOf = (sort: unknown): Document | undefined =>
  sort instanceof Map ? (Object.fromEntries(sort) as Document) : (sort as Document | undefined);

const defined = (example: Document): Document =>
  Object.fromEntries(Object.entries(example).filter(([, v]) => v !== undefined && v !== null));

interface Query {
  filter?: Document;
  sort?: Document;
  limited: boolean;
  pipeline?: Document[];
  stages?: string[];
  example: Document;
}

/**
 * The queries a command carries (an update or delete command may carry several), or none. Only a find's example keeps
 * its sort and limit: the embedded database reads a page only for a find; every other command reads all matches.
 */
export function queriesOf(commandName: string, command: Document): Query[] {
  const limitOf = (limit: unknown) => typeof limit === 'number' && limit > 0;
  switch (commandName) {
    case 'find': {
      const limited = limitOf(command.limit) || command.singleBatch === true;
      const sort = sortOf(command.sort);
      const example = defined({
        filter: command.filter ?? {},
        sort,
        limit: command.limit,
        skip: command.skip,
      });
      return [{ filter: command.filter, sort, limited, example }];
    }
    case 'count':
    case 'distinct':
      return [{ filter: command.query, limited: limitOf(command.limit), example: { filter: command.query ?? {} } }];
    case 'findAndModify':
      return [
        { filter: command.query, sort: sortOf(command.sort), limited: true, example: { filter: command.query ?? {} } },
      ];
    case 'update':
      return ((command.updates as Document[] | undefined) ?? []).map((u) => ({
        filter: u.q as Document,
        limited: u.multi !== true,
        example: { filter: u.q ?? {} },
      }));
    case 'delete':
      return ((command.deletes as Document[] | undefined) ?? []).map((d) => ({
        filter: d.q as Document,
        limited: d.limit === 1,
        example: { filter: d.q ?? {} },
      }));
    case 'aggregate': {
      const pipeline = (command.pipeline as Document[] | undefined) ?? [];
      const match = pipeline[0] && '$match' in pipeline[0] ? (pipeline[0].$match as Document) : undefined;
      const rest = pipeline.slice(match ? 1 : 0);
      return [
        {
          filter: match,
          limited: false,
          stages: rest.map((stage) => Object.keys(stage)[0] ?? '?'),
          example: { pipeline: pipeline.slice(0, match ? 1 : 0).concat(rest.filter((s) => '$sort' in s).slice(0, 1)) },
        },
      ];
    }
    default:
      return [];
  }
}

/** What a query's plan depends on: its filter with values replaced by their kind, its sort, whether it is limited. */
export function planShapeOf(query: Query): Pick<QueryShape, 'filter' | 'sort' | 'limited' | 'stages'> {
  return {
    filter: shapeOfFilter(query.filter),
    ...(query.sort && Object.keys(query.sort).length > 0 ? { sort: query.sort } : {}),
    limited: query.limited,
    ...(query.stages ? { stages: query.stages } : {}),
  };
}

/** Shapes recorded per process, at most this many (a generated filter shape would otherwise grow without end). */
const MAX_SHAPES = 2_000;

/**
 * Records every distinct query shape `client` sends to the databases named `<prefix>_…`, appending one JSON line per
 * new shape to `<dir>/<pid>.jsonl` (values only in the example, only in this file, never in logs).
 */
export function recordQueryShapes(client: MongoClient, dir: string, databasePrefix: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `${process.pid}.jsonl`);
  const seen = new Set<string>();
  const record = (event: CommandStartedEvent) => {
    if (seen.size >= MAX_SHAPES || !event.databaseName.startsWith(`${databasePrefix}_`)) return;
    const collection = event.command[event.commandName] as unknown;
    if (typeof collection !== 'string') return;
    for (const query of queriesOf(event.commandName, event.command)) {
      const shape: QueryShape = {
        command: event.commandName,
        database: event.databaseName,
        collection,
        ...planShapeOf(query),
      };
      const key = JSON.stringify(shape);
      if (seen.has(key)) continue;
      seen.add(key);
      const recorded: RecordedQuery = { ...shape, key, example: BSON.EJSON.stringify(trimmed(query.example)) };
      appendFileSync(file, `${JSON.stringify(recorded)}\n`, { mode: 0o600 });
    }
  };
  // The driver emits inside the command: a recording that fails (the folder removed at teardown) must not fail it.
  client.on('commandStarted', (event) => {
    try {
      record(event);
    } catch {
      // Nothing recorded; the query itself goes on.
    }
  });
}
