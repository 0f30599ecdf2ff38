import { pino, type Logger } from 'pino';

export type { Logger };

/** `fields`: added to every line (tracing's `trace_id` and `span_id` of the active span); none by default, at no cost. */
export function createLogger(level: string, fields?: () => Record<string, unknown>): Logger {
  return pino(
    {
      level,
      // A worker of WEB_CONCURRENCY (web-concurrency.ts) says which on every line.
      base: { service: 'opsdeck', ...(process.env.OPSDECK_WORKER ? { worker: Number(process.env.OPSDECK_WORKER), pid: process.pid } : {}) },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      ...(fields ? { mixin: fields } : {}),
    },
    // Asynchronous writes to stdout: the lines logged while a write is under way go together in the next one, so a
    // busy server (an access line per request, thousands a second) makes a write per batch instead of a system
    // call per line, and a quiet one still writes each line at once. pino flushes what is left when the process
    // exits, whatever the reason (its on-exit hook).
    pino.destination({ dest: 1, sync: false }),
  );
}
