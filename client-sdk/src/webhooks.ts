// Receiving Opsdeck webhooks: check a delivery's signature and age, then read its typed event.
// WebCrypto only (`globalThis.crypto.subtle`), so the same code runs in Node, Deno, browsers and workers;
// `subtle.verify` compares the HMAC in constant time.
import type { webhooks } from '../../generated/openapi.d.ts';

/** The event types a webhook can receive, as named in the contract's `webhooks` section. */
export type WebhookEventType = keyof webhooks;

type BodyOf<E extends WebhookEventType> = NonNullable<webhooks[E]['post']>['requestBody']['content']['application/json'];

/** The body of a delivery of event `E`: `{ id, event: E, timestamp, team_id, data }`. */
export type WebhookPayload<E extends WebhookEventType = WebhookEventType> = E extends WebhookEventType ? Omit<BodyOf<E>, 'event'> & { event: E } : never;

/** Headers as `fetch`'s `Headers`, or Node's `req.headers`. */
export type HeadersLike = Headers | Record<string, string | readonly string[] | undefined>;

export interface VerifyOptions {
  /** How far the delivery's timestamp may be from now, in seconds (default 300). */
  toleranceSeconds?: number;
  /** The current time in milliseconds (for tests). */
  now?: () => number;
}

const SIGNATURE = /^sha256=([0-9a-f]{64})$/;
const encoder = new TextEncoder();

function header(headers: HeadersLike, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const record = headers as Record<string, string | readonly string[] | undefined>;
  const value = record[name] ?? record[name.toLowerCase()] ?? Object.entries(record).find(([key]) => key.toLowerCase() === name.toLowerCase())?.[1];
  return Array.isArray(value) ? value[0] : (value as string | undefined);
}

const bytesOf = (body: string | Uint8Array | ArrayBuffer): Uint8Array => (typeof body === 'string' ? encoder.encode(body) : body instanceof Uint8Array ? body : new Uint8Array(body));

/**
 * Whether a delivery is genuine: `X-Opsdeck-Signature` is the HMAC-SHA256, keyed with the webhook's secret,
 * of `X-Opsdeck-Timestamp`, a `.`, and the body — the raw bytes as received, before any JSON parsing — and
 * the timestamp is within `toleranceSeconds` of now (so a captured delivery cannot be replayed later).
 */
export async function verifyOpsdeckSignature(body: string | Uint8Array | ArrayBuffer, headers: HeadersLike, secret: string, options: VerifyOptions = {}): Promise<boolean> {
  const timestamp = header(headers, 'X-Opsdeck-Timestamp');
  const signature = SIGNATURE.exec(header(headers, 'X-Opsdeck-Signature') ?? '')?.[1];
  if (!timestamp || !/^\d{1,12}$/.test(timestamp) || !signature) return false;
  const now = (options.now ?? Date.now)();
  if (Math.abs(now / 1000 - Number(timestamp)) > (options.toleranceSeconds ?? 300)) return false;

  const key = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  const bytes = bytesOf(body);
  const signed = new Uint8Array(timestamp.length + 1 + bytes.length);
  signed.set(encoder.encode(`${timestamp}.`), 0);
  signed.set(bytes, timestamp.length + 1);
  const expected = Uint8Array.from(signature.match(/../g)!, (hex) => parseInt(hex, 16));
  return crypto.subtle.verify('HMAC', key, expected, signed);
}

/** A delivery that failed `parseOpsdeckWebhook`'s checks. */
export class OpsdeckSignatureError extends Error {
  override readonly name = 'OpsdeckSignatureError';
}

/**
 * Verifies a delivery (see `verifyOpsdeckSignature`) and answers its event, typed by `event`; throws
 * `OpsdeckSignatureError` for a delivery that is not genuine or too old. Answer 2xx quickly after it.
 */
export async function parseOpsdeckWebhook(body: string | Uint8Array | ArrayBuffer, headers: HeadersLike, secret: string, options: VerifyOptions = {}): Promise<WebhookPayload> {
  if (!(await verifyOpsdeckSignature(body, headers, secret, options))) {
    throw new OpsdeckSignatureError('The delivery is not signed with this secret, or its timestamp is too far from now');
  }
  return JSON.parse(typeof body === 'string' ? body : new TextDecoder().decode(bytesOf(body))) as WebhookPayload;
}
