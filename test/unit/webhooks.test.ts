// The parts of webhook delivery that need no database: where webhooks may go (SSRF rules, at registration
// and at connection time), the secret box, the delivery policy and its backoff, and the signature.
import { createHmac, randomBytes } from 'node:crypto';
import type { LookupAddress } from 'node:dns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spec } from '../../server/contract.ts';
import { SecretBox } from '../../server/auth/secret-box.ts';
import { postOnce, signPayload } from '../../server/modules/webhooks/webhooks.deliverer.ts';
import { backoffSeconds, deliveryPolicy } from '../../server/modules/webhooks/webhooks.policy.ts';
import { checkBeforeConnect, checkTarget, forbiddenAddress, pinnedLookup, TargetRefused } from '../../server/modules/webhooks/webhooks.target-check.ts';
import { startReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

const resolvesTo =
  (...addresses: string[]) =>
  async (): Promise<LookupAddress[]> =>
    addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

describe('target addresses', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.254', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['100.64.0.1', 'shared address space (CGNAT)'],
    ['100.127.255.254', 'shared address space (CGNAT)'],
    ['0.0.0.0', 'unspecified ("this network")'],
    ['224.0.0.251', 'multicast'],
    ['255.255.255.255', 'reserved or broadcast'],
    ['::', 'unspecified, loopback or IPv4-compatible'],
    ['::1', 'unspecified, loopback or IPv4-compatible'],
    ['fd12:3456::1', 'private (unique local)'],
    ['fc00::1', 'private (unique local)'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['64:ff9b::a00:1', 'NAT64 (an IPv4 address in IPv6)'],
  ])('refuses %s (%s)', (address, why) => {
    expect(forbiddenAddress(address)).toBe(why);
  });

  it.each(['93.184.215.14', '8.8.8.8', '172.32.0.1', '100.128.0.1', '2606:4700::1111', '::ffff:8.8.8.8'])('accepts the public address %s', (address) => {
    expect(forbiddenAddress(address)).toBeNull();
  });

  it('refuses what is not http(s), at registration and before connecting, even when private targets are allowed', async () => {
    for (const url of ['ftp://example.com/x', 'file:///etc/passwd', 'gopher://127.0.0.1/', 'not a url']) {
      await expect(checkTarget(url, true, resolvesTo('93.184.215.14'))).rejects.toBeInstanceOf(TargetRefused);
      expect(() => checkBeforeConnect(url, true)).toThrow(TargetRefused);
    }
  });

  it('refuses a host when any of its addresses is forbidden, and says which', async () => {
    await expect(checkTarget('https://hooks.example.com/x', false, resolvesTo('93.184.215.14', '10.0.0.7'))).rejects.toThrow(
      'hooks.example.com resolves to 10.0.0.7, a private address',
    );
    await expect(checkTarget('https://hooks.example.com/x', false, resolvesTo('93.184.215.14'))).resolves.toBeInstanceOf(URL);
    await expect(checkTarget('http://[::ffff:127.0.0.1]:8080/', false)).rejects.toThrow(/loopback/);
    await expect(checkTarget('http://2130706433/', false)).rejects.toThrow('127.0.0.1 is a loopback address');
    await expect(checkTarget('http://0x7f.1/', false)).rejects.toThrow(/loopback/);
    await expect(checkTarget('http://localhost:8080/', false)).rejects.toThrow(/localhost resolves to .*loopback/);
    await expect(
      checkTarget('https://nowhere.invalid/', false, async () => {
        throw Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' });
      }),
    ).rejects.toThrow('nowhere.invalid does not resolve (ENOTFOUND)');
    // Allowed private targets skip resolving altogether.
    await expect(checkTarget('http://localhost:8080/', true)).resolves.toBeInstanceOf(URL);
    expect(() => checkBeforeConnect('http://127.0.0.1:9/', false)).toThrow(/loopback/);
    expect(checkBeforeConnect('http://localhost:9/', false).hostname).toBe('localhost'); // checked by the pinned lookup
  });

  it('pins the connection: the lookup refuses a name that now resolves to a private address (DNS rebinding)', async () => {
    let answer = ['93.184.215.14'];
    const lookup = pinnedLookup(async () => answer.map((address) => ({ address, family: 4 })));
    const ask = (options: { all?: boolean; family?: number }) =>
      new Promise<{ err: NodeJS.ErrnoException | null; address: unknown; family?: number }>((resolve) =>
        lookup('rebind.example.com', options, (err, address, family) => resolve({ err, address, family })),
      );
    expect(await ask({})).toEqual({ err: null, address: '93.184.215.14', family: 4 });
    expect((await ask({ all: true })).address).toEqual([{ address: '93.184.215.14', family: 4 }]);
    answer = ['127.0.0.1'];
    const refused = await ask({ all: true });
    expect(refused.err).toBeInstanceOf(TargetRefused);
    expect(refused.err!.message).toBe('rebind.example.com resolves to 127.0.0.1, a loopback address');
  });

  describe('at delivery time', () => {
    let receiver: WebhookReceiver;
    beforeAll(async () => {
      receiver = await startReceiver();
    });
    afterAll(async () => {
      await receiver?.close();
    });
    const options = { timeoutMs: 1000, excerptBytes: 16, allowPrivateTargets: false };

    it('does not connect to a name that resolves to loopback, and says why', async () => {
      const url = new URL(receiver.url.replace('127.0.0.1', 'localhost') + '/private');
      const outcome = await postOnce(url, {}, '{}', options);
      expect(outcome).toMatchObject({ statusCode: null, succeeded: false, excerpt: null });
      expect(outcome.error).toMatch(/^target refused: localhost resolves to (127\.0\.0\.1|::1), a .*loopback.* address$/);
      expect(receiver.received('/private')).toEqual([]);
    });

    it('posts when private targets are allowed, keeps the start of the answer, and follows no redirect', async () => {
      receiver.script('/allowed', [{ status: 201, body: 'x'.repeat(100) }]);
      const ok = await postOnce(new URL(`${receiver.url}/allowed`), { 'Content-Type': 'application/json' }, '{"a":1}', { ...options, allowPrivateTargets: true });
      expect(ok).toMatchObject({ statusCode: 201, succeeded: true, error: null, excerpt: 'x'.repeat(16) });
      expect(receiver.received('/allowed')[0]).toMatchObject({ method: 'POST', body: '{"a":1}' });
      receiver.script('/moved', [{ status: 302, body: 'see /allowed' }]);
      const moved = await postOnce(new URL(`${receiver.url}/moved`), {}, '{}', { ...options, allowPrivateTargets: true });
      expect(moved).toMatchObject({ statusCode: 302, succeeded: false });
      expect(receiver.received('/allowed')).toHaveLength(1);
    });

    it('gives up after the timeout and records why', async () => {
      receiver.script('/hang', ['hang']);
      const outcome = await postOnce(new URL(`${receiver.url}/hang`), {}, '{}', { ...options, timeoutMs: 300, allowPrivateTargets: true });
      expect(outcome).toMatchObject({ statusCode: null, succeeded: false, error: 'timed out after 300 ms' });
      expect(outcome.latencyMs).toBeGreaterThanOrEqual(290);
    });

    it('records a refused connection', async () => {
      const closed = await startReceiver();
      const url = new URL(`${closed.url}/gone`);
      await closed.close();
      const outcome = await postOnce(url, {}, '{}', { ...options, allowPrivateTargets: true });
      expect(outcome).toMatchObject({ statusCode: null, succeeded: false, error: `connection refused by ${url.host}` });
    });
  });
});

describe('secret box', () => {
  const box = new SecretBox(randomBytes(32));

  it('opens what it sealed, for the same row only', () => {
    const sealed = box.seal('whsec_abc', 'row-1');
    expect(sealed).not.toContain('whsec_abc');
    expect(sealed.startsWith(`v1.${box.keyId}.`)).toBe(true);
    expect(box.open(sealed, 'row-1')).toBe('whsec_abc');
    expect(box.seal('whsec_abc', 'row-1')).not.toBe(sealed); // a fresh IV every time
    expect(() => box.open(sealed, 'row-2')).toThrow(/does not open/);
  });

  it('refuses a changed ciphertext and another key', () => {
    const sealed = box.seal('whsec_abc', 'row-1');
    const parts = sealed.split('.');
    parts[3] = Buffer.from('whsec_abd').toString('base64url');
    expect(() => box.open(parts.join('.'), 'row-1')).toThrow(/does not open/);
    expect(() => new SecretBox(randomBytes(32)).open(sealed, 'row-1')).toThrow(/another key/);
    expect(() => new SecretBox(randomBytes(16))).toThrow();
  });
});

describe('delivery policy', () => {
  it('is the spec’s x-webhook-delivery, with overrides (fractional seconds too)', () => {
    const { description: _description, ...declared } = (spec as unknown as { 'x-webhook-delivery': Record<string, unknown> })['x-webhook-delivery'];
    expect(Object.keys(declared).length).toBeGreaterThan(0);
    expect(deliveryPolicy()).toEqual(declared);
    expect(deliveryPolicy({ base_seconds: 0.05, timeout_seconds: 1 })).toMatchObject({ base_seconds: 0.05, timeout_seconds: 1, max_attempts: 8 });
  });

  it('refuses bad overrides, naming WEBHOOK_DELIVERY', () => {
    expect(() => deliveryPolicy({ timeout: 1 })).toThrow(/WEBHOOK_DELIVERY: unknown field timeout/);
    expect(() => deliveryPolicy({ base_seconds: 0 })).toThrow(/base_seconds/);
    expect(() => deliveryPolicy({ max_attempts: 1.5 })).toThrow(/max_attempts/);
    expect(() => deliveryPolicy({ response_excerpt_bytes: 4096 })).toThrow(/at most 1024/);
  });

  it('backs off exponentially with full jitter, capped', () => {
    const p = deliveryPolicy({ base_seconds: 30, max_seconds: 100 });
    expect([1, 2, 3, 4].map((n) => backoffSeconds(p, n, () => 1))).toEqual([30, 60, 100, 100]);
    expect(backoffSeconds(p, 3, () => 0)).toBe(0);
    expect(backoffSeconds(p, 2, () => 0.5)).toBe(30);
    for (let i = 0; i < 100; i += 1) expect(backoffSeconds(p, 2)).toBeLessThanOrEqual(60);
  });
});

describe('signature', () => {
  it('is sha256= and the hex HMAC-SHA256 of timestamp.body', () => {
    const body = '{"id":"x"}';
    expect(signPayload('whsec_test', '1795257000', body)).toBe(`sha256=${createHmac('sha256', 'whsec_test').update(`1795257000.${body}`).digest('hex')}`);
    expect(signPayload('whsec_test', '1795257000', body)).toMatch(/^sha256=[0-9a-f]{64}$/);
  });
});
