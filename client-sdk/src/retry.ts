export type Fetch = (request: Request) => Promise<Response>;

export interface RetryOptions {
  /** Attempts in all, the first one included; `1` turns retries off. Default 3. */
  maxAttempts?: number;
  /** The ceiling of the first backoff, doubled for each further attempt; the wait is random below it. Default 500. */
  baseDelayMs?: number;
  /** The longest wait. A `Retry-After` beyond it is not waited for: the 429/503 answer is returned instead. Default 30 000. */
  maxDelayMs?: number;
}

const RETRY_STATUSES = new Set([429, 503]);
const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

/**
 * Wraps `fetch` so that 429, 503 and network errors are retried, with exponential backoff and full jitter,
 * or after `Retry-After` when the server sends one. Only idempotent requests are retried: those with an
 * idempotent method or an `Idempotency-Key`, which the server replays instead of doing the work twice.
 * A request with an `Idempotency-Key` is also retried after `409 RES_IDEMPOTENCY_IN_FLIGHT` (an earlier
 * attempt with that key is still running): the retry then gets that attempt's answer, replayed.
 *
 * This wraps fetch rather than being an openapi-fetch middleware: the loop then sees the request as the
 * middleware left it (auth, request id), and one loop covers both failed answers and thrown errors.
 */
export function withRetries(fetch: Fetch, options: RetryOptions = {}): Fetch {
  const { maxAttempts = 3, baseDelayMs = 500, maxDelayMs = 30_000 } = options;
  return async (request) => {
    if (maxAttempts <= 1 || !isIdempotent(request)) return fetch(request);
    // The first attempt consumes the body stream; this untouched copy lets each retry send it again.
    const pristine = request.clone();
    for (let attempt = 1; ; attempt++) {
      const isLast = attempt >= maxAttempts;
      let response: Response;
      try {
        response = await fetch(attempt === 1 ? request : pristine.clone());
      } catch (error) {
        if (isLast || request.signal.aborted) throw error;
        await sleep(backoff(attempt, baseDelayMs, maxDelayMs), request.signal);
        continue;
      }
      if (isLast || !(await isRetryable(request, response))) return response;
      const delay = retryAfterMs(response) ?? backoff(attempt, baseDelayMs, maxDelayMs);
      if (delay > maxDelayMs) return response;
      await response.body?.cancel(); // nobody reads this answer; let its connection go
      await sleep(delay, request.signal);
    }
  };
}

async function isRetryable(request: Request, response: Response): Promise<boolean> {
  if (RETRY_STATUSES.has(response.status)) return true;
  if (response.status !== 409 || !request.headers.has('Idempotency-Key')) return false;
  // Other 409s (RES_CONFLICT, RES_ALREADY_EXISTS) are final; only "still in flight" is worth waiting for.
  try {
    const body: unknown = await response.clone().json();
    return (body as { error?: { code?: unknown } } | null)?.error?.code === 'RES_IDEMPOTENCY_IN_FLIGHT';
  } catch {
    return false;
  }
}

function isIdempotent(request: Request): boolean {
  return IDEMPOTENT_METHODS.has(request.method) || request.headers.has('Idempotency-Key');
}

/** Full jitter: a random wait below a ceiling that doubles with each attempt. */
function backoff(attempt: number, baseDelayMs: number, maxDelayMs: number): number {
  return Math.random() * Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
}

/** `Retry-After` in milliseconds, from delay-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(response: { headers: Headers }): number | undefined {
  const value = response.headers.get('Retry-After')?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** Waits `ms`; rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
