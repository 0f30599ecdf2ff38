// Security headers over HTTP: nosniff, Referrer-Policy and a Content-Security-Policy on every answer (operations,
// errors, unmatched paths, the contract, the docs page with its own policy), HSTS only behind an https PUBLIC_URL,
// and Cache-Control: no-store exactly on the operations whose contract declares it (the answers that carry
// secrets), refusals included.
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operationTable } from '../../server/http/operation-table.ts';
import { API_CONTENT_SECURITY_POLICY } from '../../server/http/security-headers.ts';
import { http, newAgent } from '../support/http.ts';
import { TEST_ADMIN } from '../support/identity.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true' });
});
afterAll(async () => {
  await server?.close();
});

function expectApiHeaders(headers: Headers, what: string): void {
  expect(headers.get('x-content-type-options'), what).toBe('nosniff');
  expect(headers.get('referrer-policy'), what).toBe('no-referrer');
  expect(headers.get('content-security-policy'), what).toBe(API_CONTENT_SECURITY_POLICY);
  expect(headers.get('x-frame-options'), what).toBe('DENY');
  // Plain HTTP: no HSTS (a browser would otherwise refuse this origin over http).
  expect(headers.get('strict-transport-security'), what).toBeNull();
  expect(headers.get('x-powered-by'), what).toBeNull();
}

describe('security headers', () => {
  it('are on every answer: operations, errors, unmatched paths, the contract', async () => {
    for (const [method, path] of [
      ['GET', '/health/live'],
      ['GET', '/api/v1/system/version'],
      ['GET', '/api/v1/agents/not-a-uuid'],
      ['GET', '/no/such/path'],
      ['DELETE', '/health/live'],
      ['GET', '/openapi.json'],
      ['GET', '/openapi.yaml'],
      ['GET', '/'],
    ] as const) {
      const res = await http(server.url, method, path, { headers: { authorization: `Bearer ${server.adminToken}` } });
      expectApiHeaders(res.headers, `${method} ${path} (${res.status})`);
    }
  });

  it('are on the answer to a request the HTTP parser refuses, before any route', async () => {
    const { hostname, port } = new URL(server.url);
    const answer = await new Promise<string>((resolve, reject) => {
      let text = '';
      const socket = connect(Number(port), hostname, () => socket.write(`GET /health/live HTTP/1.1\r\nHost: ${hostname}\r\nX-Bad: a\u0000b\r\nConnection: close\r\n\r\n`));
      socket.on('data', (chunk) => (text += chunk));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    const head = answer.slice(0, answer.indexOf('\r\n\r\n'));
    expect(head).toContain('\r\nX-Content-Type-Options: nosniff\r\n');
    expect(head).toContain('\r\nReferrer-Policy: no-referrer\r\n');
    expect(head).toContain(`\r\nContent-Security-Policy: ${API_CONTENT_SECURITY_POLICY}\r\n`);
  });

  it('gives the docs page a policy of its own: its inline scripts by hash, nothing from elsewhere', async () => {
    const res = await http(server.url, 'GET', '/docs');
    expect(res.status).toBe(200);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("'unsafe-eval'");
    const scriptSrc = csp.split(';').map((d) => d.trim()).find((d) => d.startsWith('script-src '))!;
    expect(scriptSrc).not.toContain("'unsafe-inline'");
    // Every inline script of the page as served (with this server's origin written in) is allowed by its hash.
    const scripts = [...res.text.matchAll(/<script(\s[^>]*)?>([\s\S]*?)<\/script>/gi)].filter((m) => !/\ssrc\s*=/i.test(m[1] ?? ''));
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, , body = ''] of scripts) expect(scriptSrc).toContain(`'sha256-${createHash('sha256').update(body).digest('base64')}'`);
  });

  it('adds Strict-Transport-Security when PUBLIC_URL is https', async () => {
    const https = await startTestServer({ PUBLIC_URL: 'https://opsdeck.example.com' });
    try {
      for (const path of ['/health/live', '/no/such/path', '/docs']) {
        const res = await http(https.url, 'GET', path);
        expect(res.headers.get('strict-transport-security'), path).toBe('max-age=31536000');
      }
    } finally {
      await https.close();
    }
  });
});

describe('Cache-Control: no-store', () => {
  it('is declared by exactly the operations whose answers carry secrets (read from the contract)', () => {
    const noStore = [...operationTable.values()].filter((op) => op.noStore).map((op) => op.operationId);
    expect(noStore.sort()).toEqual(
      [
        ...['createApiKey', 'createEnrollmentToken', 'createWebhook', 'enrollAgent', 'getMetrics', 'login', 'refreshToken'],
        // Sign-in through an identity provider (its state, its one-time code, the token pair) and the second factor
        // (the TOTP secret, recovery codes, the token pair after the code).
        ...['startOAuthSignIn', 'completeOAuthSignIn', 'exchangeOAuthCode', 'enrolTotp', 'confirmTotp', 'regenerateRecoveryCodes', 'loginMfa'],
      ].sort(),
    );
  });

  it('is on their answers, refusals included, and on no other', async () => {
    const login = await http(server.url, 'POST', '/api/v1/auth/login', { json: { email: TEST_ADMIN.email, password: TEST_ADMIN.password } });
    expect(login.status).toBe(200);
    expect(login.headers.get('cache-control')).toBe('no-store');
    const refused = await http(server.url, 'POST', '/api/v1/auth/login', { json: { email: TEST_ADMIN.email, password: 'not-the-password-1' } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('cache-control')).toBe('no-store');
    const refresh = await http(server.url, 'POST', '/api/v1/auth/refresh', { json: { refresh_token: login.body.data.refresh_token } });
    expect(refresh.status).toBe(200);
    expect(refresh.headers.get('cache-control')).toBe('no-store');

    const admin = { headers: { authorization: `Bearer ${server.adminToken}` } };
    const key = await http(server.url, 'POST', '/api/v1/api-keys', { ...admin, json: { name: 'no-store', scopes: ['agents:read'] } });
    expect(key.status).toBe(201);
    expect(key.headers.get('cache-control')).toBe('no-store');
    const webhook = await http(server.url, 'POST', '/api/v1/webhooks', { ...admin, json: { url: 'http://127.0.0.1:9/hook', events: ['alert.triggered'], team_id: server.teamId } });
    expect(webhook.status, webhook.text).toBe(201);
    expect(webhook.headers.get('cache-control')).toBe('no-store');
    const token = await http(server.url, 'POST', `/api/v1/teams/${server.teamId}/enrollment-tokens`, { ...admin, json: { name: 'no-store' } });
    expect(token.status, token.text).toBe(201);
    expect(token.headers.get('cache-control')).toBe('no-store');
    const enrolled = await http(server.url, 'POST', '/api/v1/agent/enroll', { json: { enrollment_token: token.body.data.secret, hostname: `no-store-${Date.now()}.example.com`, ip_address: '10.9.9.9', platform: 'linux' } });
    expect(enrolled.status, enrolled.text).toBe(201);
    expect(enrolled.headers.get('cache-control')).toBe('no-store');

    // Answers without secrets keep their own caching (x-cache-control) or none.
    const version = await http(server.url, 'GET', '/api/v1/system/version');
    expect(version.headers.get('cache-control')).toBe('public, max-age=60');
    const keys = await http(server.url, 'GET', '/api/v1/api-keys', admin);
    expect(keys.headers.get('cache-control')).not.toBe('no-store');
    const agent = await http(server.url, 'POST', '/api/v1/agents', { ...admin, json: newAgent() });
    expect(agent.status).toBe(201);
    expect(agent.headers.get('cache-control')).toBeNull();
  });
});
