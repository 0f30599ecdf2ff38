// Which database failures mean "the database is not there" (answered 503, retryable) rather than a bug.
const UNAVAILABLE_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN']);
const UNAVAILABLE_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Query read timeout',
  'Client has encountered a connection error',
  'database did not answer',
  'Connection ended unexpectedly',
  'PGlite is closed',
];

/**
 * The database did not answer within the time it was given (DB_TIMEOUT_MS, for a request as a whole):
 * answered 503, like a database that is away. database.ts throws it and drops the connection.
 */
export class DatabaseTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';

  constructor(budget: string, what: string) {
    super(`database did not answer within ${budget} (${what})`);
    this.name = 'DatabaseTimeoutError';
  }
}

export function isDatabaseUnavailable(err: unknown): boolean {
  if (err instanceof DatabaseTimeoutError) return true;
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (UNAVAILABLE_NODE_CODES.has(code)) return true;
    // SQLSTATE class 08 (connection exception), 57P01-57P03 (shutdown, cannot connect now), 57014 (statement timeout).
    if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '57014') return true;
  }
  return UNAVAILABLE_MESSAGES.some((m) => err.message.includes(m));
}

/** Whether PostgreSQL aborted the transaction to break a deadlock (SQLSTATE 40P01): safe to run again. */
export function isDeadlock(err: unknown): boolean {
  return err instanceof Error && (err as { code?: unknown }).code === '40P01';
}

/** Whether the error is a unique-constraint violation, optionally of one named constraint. */
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  if (!(err instanceof Error)) return false;
  const e = err as { code?: unknown; constraint?: unknown; message: string };
  if (e.code !== '23505') return false;
  return constraint === undefined || e.constraint === constraint || e.message.includes(constraint);
}
