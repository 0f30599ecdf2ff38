// The SDK's webhook receiver helpers against signatures made the way the contract describes them
// (node:crypto here, so the two sides share no code).
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { OpsdeckSignatureError, parseOpsdeckWebhook, verifyOpsdeckSignature } from '@opsdeck/sdk';

const secret = 'whsec_0123456789abcdefghijklmnopqrstuv';
const body = JSON.stringify({ id: '0192f3c2-7a6b-7c5d-9e4f-3a2b1c0d9e8f', event: 'alert.triggered', timestamp: '2026-11-21T10:30:00.000Z', team_id: '0192f0a0-0000-7000-8000-00000000000a', data: { id: 'a1', title: 'Disk full' } });
const now = Date.parse('2026-11-21T10:30:05Z');
const ts = String(Math.floor(now / 1000));
const sign = (timestamp: string, payload: string, key = secret) => `sha256=${createHmac('sha256', key).update(`${timestamp}.${payload}`).digest('hex')}`;
const headersOf = (timestamp = ts, signature = sign(ts, body)) => ({ 'x-opsdeck-timestamp': timestamp, 'x-opsdeck-signature': signature, 'x-opsdeck-event': 'alert.triggered' });
const clock = { now: () => now };

describe('verifyOpsdeckSignature', () => {
  it('accepts a genuine delivery, as a string, bytes, fetch Headers or Node headers', async () => {
    expect(await verifyOpsdeckSignature(body, headersOf(), secret, clock)).toBe(true);
    expect(await verifyOpsdeckSignature(new TextEncoder().encode(body), new Headers(headersOf()), secret, clock)).toBe(true);
    expect(await verifyOpsdeckSignature(Buffer.from(body), { 'X-Opsdeck-Timestamp': [ts], 'X-Opsdeck-Signature': sign(ts, body) }, secret, clock)).toBe(true);
  });

  it('refuses another secret, a changed body, a changed timestamp and malformed headers', async () => {
    expect(await verifyOpsdeckSignature(body, headersOf(), 'whsec_another-secret-entirely-0000', clock)).toBe(false);
    expect(await verifyOpsdeckSignature(body.replace('Disk full', 'Disk fine'), headersOf(), secret, clock)).toBe(false);
    expect(await verifyOpsdeckSignature(body, headersOf(String(Number(ts) - 1), sign(ts, body)), secret, clock)).toBe(false);
    expect(await verifyOpsdeckSignature(body, headersOf(ts, sign(ts, body).toUpperCase()), secret, clock)).toBe(false);
    expect(await verifyOpsdeckSignature(body, { 'x-opsdeck-timestamp': ts }, secret, clock)).toBe(false);
    expect(await verifyOpsdeckSignature(body, headersOf('soon', sign('soon', body)), secret, clock)).toBe(false);
  });

  it('refuses a delivery older (or newer) than the tolerance, five minutes by default', async () => {
    const old = String(Number(ts) - 301);
    expect(await verifyOpsdeckSignature(body, headersOf(old, sign(old, body)), secret, clock)).toBe(false);
    expect(await verifyOpsdeckSignature(body, headersOf(old, sign(old, body)), secret, { ...clock, toleranceSeconds: 600 })).toBe(true);
    const future = String(Number(ts) + 301);
    expect(await verifyOpsdeckSignature(body, headersOf(future, sign(future, body)), secret, clock)).toBe(false);
  });
});

describe('parseOpsdeckWebhook', () => {
  it('answers the typed event of a genuine delivery and throws for a forged one', async () => {
    const event = await parseOpsdeckWebhook(body, headersOf(), secret, clock);
    expect(event).toMatchObject({ event: 'alert.triggered', data: { title: 'Disk full' } });
    await expect(parseOpsdeckWebhook(body, headersOf(), 'whsec_wrong-wrong-wrong-wrong-wrong', clock)).rejects.toBeInstanceOf(OpsdeckSignatureError);
  });
});
