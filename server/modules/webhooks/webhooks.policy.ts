// How webhooks are delivered: the spec's `x-webhook-delivery` policy, with the fields WEBHOOK_DELIVERY
// overrides (tests shorten the waits, even below a second). Every number the deliverer uses comes from here.
import { policyWithOverrides } from '../../contract.ts';
import { ConfigError } from '../../config.ts';

export interface DeliveryPolicy {
  /** How long one attempt may take, from resolving the host to the end of the answer read. */
  readonly timeout_seconds: number;
  /** Attempts in all, the first included. */
  readonly max_attempts: number;
  /** The wait before attempt n + 1 is random between 0 and min(max_seconds, base_seconds × 2^(n − 1)). */
  readonly base_seconds: number;
  readonly max_seconds: number;
  /** Failed attempts in a row (over all of a webhook's deliveries) that turn the webhook off. */
  readonly disable_after_consecutive_failures: number;
  /** How much of each answer an attempt records. */
  readonly response_excerpt_bytes: number;
  readonly retention_days: number;
  /** Attempts one webhook may have in flight at once in one process, so a slow endpoint cannot hold up the others. */
  readonly max_in_flight_per_webhook: number;
}

/** `WebhookDeliveryAttempt.response_excerpt` holds at most this much (and so does its column). */
const EXCERPT_LIMIT = 1024;

/** The spec's policy with the overrides applied; throws, naming WEBHOOK_DELIVERY, on a bad override. */
export function deliveryPolicy(overrides: Record<string, unknown> = {}): DeliveryPolicy {
  const checked = policyWithOverrides<DeliveryPolicy>('x-webhook-delivery', 'WEBHOOK_DELIVERY', overrides, {
    amounts: ['timeout_seconds', 'base_seconds', 'max_seconds'],
    counts: ['max_attempts', 'disable_after_consecutive_failures', 'response_excerpt_bytes', 'retention_days', 'max_in_flight_per_webhook'],
  });
  if (checked.response_excerpt_bytes > EXCERPT_LIMIT) throw new ConfigError('WEBHOOK_DELIVERY', `WEBHOOK_DELIVERY: response_excerpt_bytes must be at most ${EXCERPT_LIMIT}`);
  return checked;
}

/** Seconds to wait after failed attempt number `attempt` (from 1): full jitter over the capped exponential. */
export function backoffSeconds(p: DeliveryPolicy, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(p.max_seconds, p.base_seconds * 2 ** (attempt - 1));
  return random() * ceiling;
}
