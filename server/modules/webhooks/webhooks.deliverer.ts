// Sends queued webhook deliveries. Each process with background workers runs one; they share the work
// through the database: a worker claims due deliveries with FOR UPDATE SKIP LOCKED and, in the same
// statement, leases them (moves `next_attempt_at` past the attempt's timeout), so a process killed
// mid-attempt leaves them due again once the lease ends: delivered at least once, never lost.
//
// An attempt is one signed POST, with the target checked again (pinned to the checked addresses, see
// webhooks.target-check.ts), no redirects followed, and a deadline covering everything from resolving the
// host to reading the answer. Its result is recorded with the attempt: the delivery (succeeded, or pending
// again after a backoff with full jitter, or failed after the last attempt) and the webhook's health (last
// delivery, failures in a row, turned off after too many). Every number comes from the `x-webhook-delivery`
// policy (webhooks.policy.ts).
import { createHmac } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { sql, type Kysely } from 'kysely';
import type { SecretBox } from '../../auth/secret-box.ts';
import type { Database } from '../../db/schema.ts';
import { toEventPayload } from '../../events/event.mapper.ts';
import type { Logger } from '../../logger.ts';
import { traceDelivery } from '../../observability/tracing.ts';
import { version } from '../../version.ts';
import { backoffSeconds, type DeliveryPolicy } from './webhooks.policy.ts';
import { channelAttemptTarget } from '../notifications/notifications.repository.ts';
import type { ChannelSender } from '../notifications/notifications.sender.ts';
import { http } from '../../http/node-http.ts';
import * as repo from './webhooks.repository.ts';
import { checkBeforeConnect, pinnedLookup, TargetRefused } from './webhooks.target-check.ts';

/** How far a claim's lease outlasts the attempt's timeout: room for recording the result. */
const LEASE_SLACK_SECONDS = 30;
const ERROR_LENGTH = 500;
const REASON_LENGTH = 500;

export const USER_AGENT = `Opsdeck-Webhooks/${version}`;

/** `sha256=` and the hex HMAC-SHA256 of `timestamp.body`, keyed with the webhook's secret. */
export function signPayload(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export interface AttemptOutcome {
  statusCode: number | null;
  latencyMs: number;
  excerpt: string | null;
  error: string | null;
  succeeded: boolean;
}

export interface DelivererOptions {
  policy: DeliveryPolicy;
  /** WEBHOOK_ALLOW_PRIVATE_TARGETS: skip the address rules (never the scheme rule). */
  allowPrivateTargets: boolean;
  /** How often to look for due deliveries when nobody says there are some (default 500 ms). */
  pollMs?: number;
  /** Attempts in flight at once in this process (default 16). */
  concurrency?: number;
  /** Told of every attempt's outcome once it is over (the metrics count them). */
  onAttempt?: (outcome: AttemptOutcome) => void;
  /** Sends notifications to `slack` and `email` channels; without it, those deliveries fail. */
  channels?: Pick<ChannelSender, 'send'>;
}

const clip = (text: string, length: number) => (text.length > length ? `${text.slice(0, length - 1)}…` : text);

function describeError(err: unknown, host: string): string {
  if (err instanceof TargetRefused) return `target refused: ${err.message}`;
  const e = err as NodeJS.ErrnoException;
  switch (e.code) {
    case 'ECONNREFUSED':
      return `connection refused by ${host}`;
    case 'ECONNRESET':
      return `connection reset by ${host}`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `${host} does not resolve (${e.code})`;
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `${host} is unreachable (${e.code})`;
    default:
      return e.code ? `${e.code}: ${e.message}` : e.message;
  }
}

/** Text of the start of an answer, as the attempt stores it (no NUL, which PostgreSQL text refuses). */
const excerptOf = (chunks: Buffer[]): string => Buffer.concat(chunks).toString('utf8').replace(/\u0000/g, '');

/** One POST; never throws: every way it can go wrong is an outcome. */
export function postOnce(
  url: URL,
  headers: Record<string, string>,
  body: string,
  options: { timeoutMs: number; excerptBytes: number; allowPrivateTargets: boolean },
): Promise<AttemptOutcome> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  return new Promise((resolve) => {
    let settled = false;
    let response: IncomingMessage | undefined;
    const chunks: Buffer[] = [];
    let read = 0;
    let timer: NodeJS.Timeout | undefined;
    const finish = (outcome: Omit<AttemptOutcome, 'latencyMs'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve({ ...outcome, latencyMs: elapsed() });
    };
    const answered = () => {
      const statusCode = response!.statusCode ?? null;
      const succeeded = statusCode !== null && statusCode >= 200 && statusCode < 300;
      finish({ statusCode, excerpt: excerptOf(chunks), error: null, succeeded });
    };
    const send = url.protocol === 'https:' ? httpsRequest : http.request;
    const req = send(
      url,
      {
        method: 'POST',
        headers: { ...headers, 'Content-Length': String(Buffer.byteLength(body)), Connection: 'close' },
        // A fresh connection per attempt, to an address the pinned lookup has checked.
        agent: false,
        ...(options.allowPrivateTargets ? {} : { lookup: pinnedLookup() }),
      },
      (res) => {
        response = res;
        res.on('data', (chunk: Buffer) => {
          if (read < options.excerptBytes) chunks.push(chunk.subarray(0, options.excerptBytes - read));
          read += chunk.length;
          // Enough of the answer to record: stop reading, the rest is not needed.
          if (read >= options.excerptBytes) answered();
        });
        res.on('end', answered);
        res.on('error', (err) => finish({ statusCode: res.statusCode ?? null, excerpt: excerptOf(chunks), error: clip(`the answer broke off: ${err.message}`, ERROR_LENGTH), succeeded: false }));
      },
    );
    timer = setTimeout(
      () =>
        finish({
          statusCode: response?.statusCode ?? null,
          excerpt: response ? excerptOf(chunks) : null,
          error: `timed out after ${options.timeoutMs} ms${response ? ' reading the answer' : ''}`,
          succeeded: false,
        }),
      options.timeoutMs,
    );
    req.on('error', (err) => finish({ statusCode: response?.statusCode ?? null, excerpt: null, error: clip(describeError(err, url.host), ERROR_LENGTH), succeeded: false }));
    req.end(body);
  });
}

/** One attempt's row. */
const insertAttempt = (trx: Parameters<typeof repo.insertAttempt>[0], deliveryId: string, number: number, attemptedAt: Date, outcome: AttemptOutcome) =>
  repo.insertAttempt(trx, {
    delivery_id: deliveryId,
    number,
    attempted_at: attemptedAt,
    status_code: outcome.statusCode,
    latency_ms: outcome.latencyMs,
    response_excerpt: outcome.excerpt,
    error: outcome.error,
    succeeded: outcome.succeeded,
  });

export class WebhookDeliverer {
  readonly #db: Kysely<Database>;
  readonly #box: SecretBox;
  readonly #log: Logger;
  readonly #policy: DeliveryPolicy;
  readonly #allowPrivate: boolean;
  readonly #pollMs: number;
  readonly #concurrency: number;
  readonly #onAttempt: DelivererOptions['onAttempt'];
  readonly #channels: DelivererOptions['channels'];
  readonly #inFlight = new Set<Promise<void>>();
  /** Attempts in flight per webhook, bounded by `max_in_flight_per_webhook`. */
  readonly #perWebhook = new Map<string, number>();
  #filling: Promise<void> | undefined;
  #again = false;
  #stopped = true;
  #timer: NodeJS.Timeout | undefined;
  #failing = false;

  constructor(db: Kysely<Database>, box: SecretBox, log: Logger, options: DelivererOptions) {
    this.#db = db;
    this.#box = box;
    this.#log = log;
    this.#policy = options.policy;
    this.#allowPrivate = options.allowPrivateTargets;
    this.#pollMs = options.pollMs ?? 500;
    this.#concurrency = options.concurrency ?? 16;
    this.#onAttempt = options.onAttempt;
    this.#channels = options.channels;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    const poll = () => {
      this.wake();
      if (!this.#stopped) this.#timer = setTimeout(poll, this.#pollMs).unref();
    };
    poll();
  }

  /** Looks for due deliveries now (new ones were queued); a no-op when the deliverer is not running. */
  wake(): void {
    if (this.#stopped) return;
    if (this.#filling) {
      this.#again = true;
      return;
    }
    this.#filling = this.#fill().finally(() => (this.#filling = undefined));
  }

  /** Stops claiming, and waits for the attempts in flight (each bounded by the timeout) to be recorded. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#filling;
    await Promise.allSettled([...this.#inFlight]);
  }

  /** Claims as many due deliveries as there are free slots, and starts them; again while more may be due. */
  async #fill(): Promise<void> {
    do {
      this.#again = false;
      const free = this.#concurrency - this.#inFlight.size;
      if (free <= 0) return; // a finishing attempt wakes the deliverer again
      let claimed: repo.ClaimedDelivery[];
      try {
        const perWebhook = this.#policy.max_in_flight_per_webhook;
        const room = new Map([...this.#perWebhook].map(([webhookId, busy]) => [webhookId, Math.max(0, perWebhook - busy)]));
        claimed = await repo.claimDue(this.#db, { limit: free, room, perWebhook }, this.#policy.timeout_seconds + LEASE_SLACK_SECONDS);
        this.#failing = false;
      } catch (err) {
        // Logged once per outage, not at every poll.
        if (!this.#failing) this.#log.warn({ err: (err as Error).message }, 'webhooks: claiming deliveries failed; trying again');
        this.#failing = true;
        return;
      }
      for (const delivery of claimed) {
        this.#perWebhook.set(delivery.target_id, (this.#perWebhook.get(delivery.target_id) ?? 0) + 1);
        const running: Promise<void> = this.#attempt(delivery)
          .catch((err: unknown) => {
            // The lease runs out and the delivery is claimed again.
            this.#log.warn({ err: (err as Error).message, delivery_id: delivery.id, webhook_id: delivery.webhook_id, channel_id: delivery.channel_id }, 'webhooks: an attempt could not be recorded');
          })
          .finally(() => {
            const left = (this.#perWebhook.get(delivery.target_id) ?? 1) - 1;
            if (left > 0) this.#perWebhook.set(delivery.target_id, left);
            else this.#perWebhook.delete(delivery.target_id);
            this.#inFlight.delete(running);
            this.wake();
          });
        this.#inFlight.add(running);
      }
      if (claimed.length === free) this.#again = true;
    } while (this.#again && !this.#stopped);
  }

  async #attempt(delivery: repo.ClaimedDelivery): Promise<void> {
    const attemptedAt = new Date();
    let outcome: AttemptOutcome;
    if (delivery.channel_id !== null) {
      const sent = await this.#sendToChannel(delivery);
      if (!sent) return;
      outcome = sent;
    } else {
      const sent = await this.#sendToWebhook(delivery, attemptedAt);
      if (!sent) return;
      outcome = sent;
    }
    this.#onAttempt?.(outcome);
    const retryIn = await this.#record(delivery, attemptedAt, outcome);
    // A retry due before the next poll (short waits, as in tests) is looked for when it is due.
    if (retryIn !== null && retryIn * 1000 < this.#pollMs) setTimeout(() => this.wake(), Math.ceil(retryIn * 1000)).unref();
  }

  /** A notification to a channel (modules/notifications); undefined when there is nothing to send. */
  async #sendToChannel(delivery: repo.ClaimedDelivery): Promise<AttemptOutcome | undefined> {
    const target = await channelAttemptTarget(this.#db, delivery.id);
    if (!target || target.status !== 'pending') return undefined;
    if (!target.enabled || !this.#channels) {
      await repo.updateDelivery(this.#db, delivery.id, { status: 'failed', next_attempt_at: null, completed_at: sql<Date>`now()` as never });
      this.#log.debug({ delivery_id: delivery.id, channel_id: target.channel_id }, 'notifications: delivery failed, its channel is off');
      return undefined;
    }
    return this.#channels.send(target);
  }

  /** A signed POST to a webhook; undefined when there is nothing to send. */
  async #sendToWebhook(delivery: repo.ClaimedDelivery, attemptedAt: Date): Promise<AttemptOutcome | undefined> {
    const target = await repo.attemptTarget(this.#db, delivery.id);
    // Its webhook (or its event) was deleted meanwhile, and the delivery with it.
    if (!target || target.status !== 'pending') return undefined;
    if (!target.active) {
      // Turned off after it was claimed: nothing is sent to a webhook that is off.
      await repo.updateDelivery(this.#db, delivery.id, { status: 'failed', next_attempt_at: null, completed_at: sql<Date>`now()` as never });
      this.#log.debug({ delivery_id: delivery.id, webhook_id: target.webhook_id }, 'webhooks: delivery failed, its webhook is off');
      return undefined;
    }
    // Traced, the attempt is a span in the trace of the request that caused the event, and carries its traceparent.
    const attempt = { deliveryId: delivery.id, webhookId: target.webhook_id, eventId: target.id, eventType: target.type, url: target.url, traceparent: target.traceparent, tracestate: target.tracestate };
    return traceDelivery(attempt, (traceHeaders) => this.#send(delivery, target, attemptedAt, traceHeaders));
  }

  async #send(
    delivery: repo.ClaimedDelivery,
    target: NonNullable<Awaited<ReturnType<typeof repo.attemptTarget>>>,
    attemptedAt: Date,
    traceHeaders: Record<string, string>,
  ): Promise<AttemptOutcome> {
    const refused = (error: string): AttemptOutcome => ({ statusCode: null, latencyMs: 0, excerpt: null, error: clip(error, ERROR_LENGTH), succeeded: false });
    let secret: string;
    try {
      secret = this.#box.open(target.secret_ciphertext, target.webhook_id);
    } catch (err) {
      return refused(`the signing secret cannot be read (${(err as Error).message}); set a new one with updateWebhook`);
    }
    let url: URL;
    try {
      // The scheme, and an IP literal's address; a host name's addresses are checked by the pinned lookup.
      url = checkBeforeConnect(target.url, this.#allowPrivate);
    } catch (err) {
      return refused(describeError(err, target.url));
    }
    const body = JSON.stringify(toEventPayload(target));
    const timestamp = String(Math.floor(attemptedAt.getTime() / 1000));
    const headers = {
      'Content-Type': 'application/json',
      'User-Agent': USER_AGENT,
      'X-Opsdeck-Event': target.type,
      'X-Opsdeck-Delivery': delivery.id,
      'X-Opsdeck-Timestamp': timestamp,
      'X-Opsdeck-Signature': signPayload(secret, timestamp, body),
      // W3C trace context (`traceparent`, `tracestate`) when tracing is on.
      ...traceHeaders,
    };
    return postOnce(url, headers, body, {
      timeoutMs: Math.round(this.#policy.timeout_seconds * 1000),
      excerptBytes: this.#policy.response_excerpt_bytes,
      allowPrivateTargets: this.#allowPrivate,
    });
  }

  /** Records an attempt; answers the seconds until a retry, if any. */
  #record(delivery: repo.ClaimedDelivery, attemptedAt: Date, outcome: AttemptOutcome): Promise<number | null> {
    return outcome.succeeded ? this.#recordSuccess(delivery, attemptedAt, outcome) : this.#recordFailure(delivery, attemptedAt, outcome);
  }

  /**
   * A success: the attempt and the delivery in one transaction, then the webhook's health in a statement of
   * its own. The webhook's row is then locked for one statement rather than a whole transaction, so the
   * successes of one webhook are recorded side by side (it is the busy path), and no lock is held across
   * both rows, so this cannot deadlock with writers that lock the webhook first.
   */
  async #recordSuccess(delivery: repo.ClaimedDelivery, attemptedAt: Date, outcome: AttemptOutcome): Promise<null> {
    const number = await this.#db.transaction().execute(async (trx) => {
      const current = await repo.lockDelivery(trx, delivery.id);
      if (!current) return null; // deleted meanwhile
      const number = current.attempt_count + 1;
      await insertAttempt(trx, delivery.id, number, attemptedAt, outcome);
      await repo.updateDelivery(trx, delivery.id, { attempt_count: number, last_status_code: outcome.statusCode, status: 'succeeded', next_attempt_at: null, completed_at: sql<Date>`now()` as never });
      return number;
    });
    if (number === null) return null;
    if (delivery.webhook_id !== null) await repo.markDelivered(this.#db, delivery.webhook_id);
    this.#log.debug({ delivery_id: delivery.id, webhook_id: delivery.webhook_id, channel_id: delivery.channel_id, event: delivery.event, attempt: number, status_code: outcome.statusCode, latency_ms: outcome.latencyMs }, 'webhooks: delivered');
    return null;
  }

  /** A failure: the attempt, the delivery (retry or give up) and the webhook's failures in a row (turned off after too many), together. */
  async #recordFailure(delivery: repo.ClaimedDelivery, attemptedAt: Date, outcome: AttemptOutcome): Promise<number | null> {
    const p = this.#policy;
    const logged = { delivery_id: delivery.id, webhook_id: delivery.webhook_id, channel_id: delivery.channel_id, event: delivery.event };
    return this.#db.transaction().execute(async (trx) => {
      // Webhook first, then delivery: the order every writer of both takes. A channel keeps no health.
      const webhook = delivery.webhook_id === null ? null : await repo.lockWebhookForDelivery(trx, delivery.webhook_id);
      const current = (webhook || delivery.webhook_id === null) && (await repo.lockDelivery(trx, delivery.id));
      if (!current) return null; // deleted meanwhile
      const number = current.attempt_count + 1;
      await insertAttempt(trx, delivery.id, number, attemptedAt, outcome);
      const counts = { attempt_count: number, last_status_code: outcome.statusCode };
      let retryIn: number | null = null;
      if (current.status !== 'pending' || number >= p.max_attempts) {
        await repo.updateDelivery(trx, delivery.id, { ...counts, status: 'failed', next_attempt_at: null, completed_at: sql<Date>`now()` as never });
      } else {
        retryIn = backoffSeconds(p, number);
        await repo.updateDelivery(trx, delivery.id, { ...counts, next_attempt_at: sql<Date>`now() + make_interval(secs => ${retryIn}::float8)` as never });
      }

      if (!webhook) {
        this.#log.info({ ...logged, attempt: number, error: outcome.error, retry_in_s: retryIn }, retryIn === null ? 'notifications: attempt failed, delivery failed' : 'notifications: attempt failed, will retry');
        return retryIn;
      }
      const failures = webhook.consecutive_failures + 1;
      const disable = webhook.active && failures >= p.disable_after_consecutive_failures;
      const last = outcome.statusCode !== null ? `HTTP ${outcome.statusCode}` : (outcome.error ?? 'no answer');
      const reason = clip(`disabled after ${failures} failed attempts in a row; the last one: ${last}`, REASON_LENGTH);
      await trx
        .updateTable('webhooks')
        .set({
          last_delivery_at: sql<Date>`now()` as never,
          consecutive_failures: failures,
          ...(disable ? { active: false, disabled_reason: reason, disabled_at: sql<Date>`now()` as never, updated_at: sql<Date>`now()` as never } : {}),
        })
        .where('id', '=', webhook.id)
        .execute();
      const failed = disable ? await repo.failPendingDeliveries(trx, webhook.id) : 0;

      this.#log.info(
        { ...logged, attempt: number, status_code: outcome.statusCode, error: outcome.error, latency_ms: outcome.latencyMs, retry_in_s: retryIn === null ? null : Math.round(retryIn * 1000) / 1000 },
        retryIn === null ? 'webhooks: attempt failed, delivery failed' : 'webhooks: attempt failed, will retry',
      );
      if (disable) this.#log.warn({ webhook_id: webhook.id, reason, deliveries_failed: failed }, 'webhooks: webhook turned off after too many failures in a row');
      return disable ? null : retryIn;
    });
  }
}
