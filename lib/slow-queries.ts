// The slow-query log: a database command that takes at least USAGEGRAPH_DB_SLOW_QUERY_MS is logged with its shape
// (collection, filter with values replaced by their kind, sort, limit) and its duration — never its values, which can
// be customer data. Off unless set; what platform engineers turn on to find the query that grows with the data.
import type { CommandStartedEvent, Document, MongoClient } from 'mongodb';
import type { Logger } from 'pino';
import { planShapeOf, queriesOf } from './query-shapes';

/** At most this many commands are remembered while they run (a command whose answer never comes is forgotten). */
const MAX_OPEN = 10_000;

/** What a slow command is logged with: its shape, no values. */
export function slowQueryFields(commandName: string, command: Document): Record<string, unknown> {
  // A getMore names its collection in `collection`; every other command under its own name.
  const collection = commandName === 'getMore' ? command.collection : command[commandName];
  return {
    command: commandName,
    collection: typeof collection === 'string' ? collection : undefined,
    queries: queriesOf(commandName, command).map(planShapeOf),
    ...(commandName === 'insert' && Array.isArray(command.documents) ? { documents: command.documents.length } : {}),
  };
}

export function logSlowQueries(client: MongoClient, thresholdMs: number, log: Logger): void {
  const open = new Map<number, CommandStartedEvent>();
  client.on('commandStarted', (event) => {
    if (open.size >= MAX_OPEN) open.delete(open.keys().next().value!);
    open.set(event.requestId, event);
  });
  const finish = (requestId: number, duration: number, failed: boolean) => {
    const started = open.get(requestId);
    open.delete(requestId);
    if (!started || duration < thresholdMs) return;
    try {
      log.warn(
        {
          ...slowQueryFields(started.commandName, started.command),
          database: started.databaseName,
          durationMs: Math.round(duration),
          failed,
        },
        'slow database command',
      );
    } catch {
      // A shape that cannot be written is not worth failing the command for.
    }
  };
  client.on('commandSucceeded', (event) => finish(event.requestId, event.duration, false));
  client.on('commandFailed', (event) => finish(event.requestId, event.duration, true));
}
