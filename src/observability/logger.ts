// Structured logs (pino, JSON to stderr). Commands print their human output themselves; the
// logger carries diagnostics. Never log packet bytes.
import pino from 'pino';

export const logger = pino(
  { name: 'podspan', level: process.env.PODSPAN_LOG_LEVEL ?? 'warn', base: { pid: process.pid } },
  pino.destination(2),
);

export type Logger = pino.Logger;
