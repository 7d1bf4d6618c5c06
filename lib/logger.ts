// Structured JSON logs (pino); every line carries the service and the current correlation id.
import pino, { type Logger } from 'pino';
import { currentCorrelationId } from './correlation';

export type { Logger };

export function createLogger(service: string): Logger {
  return pino({
    name: service,
    level: process.env.LOG_LEVEL ?? 'info',
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    mixin() {
      const correlationId = currentCorrelationId();
      return correlationId ? { correlationId } : {};
    },
  });
}
