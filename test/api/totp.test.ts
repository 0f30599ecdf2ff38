// The TOTP second factor over HTTP on real PostgreSQL and Redis: enrolment and confirmation, the login that asks
// for a code, wrong and replayed codes, single-use recovery codes and their regeneration, turning it off, the
// administrators' policy, and what is stored (sealed secrets and digests, never plain text). Codes are made with
// `otpauth` from the secret the API answered, as an authenticator app would.
import { Secret, TOTP } from 'otpauth';
import { createOpsdeckClient, MfaRequiredError, unwrap } from '@opsdeck/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../server/logger.ts';
import { resetAuthPolicy } from '../../server/modules/auth/auth.totp.ts';
import { sha256 } from '../../server/auth/secrets.ts';
import { http } from '../support/http.ts';
import { bearer, createUser, login, TEST_PASSWORD, type TestUser } from '../support/identity.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const PERIOD = 30;
const as = (token: string) => (method: string, path: string, json?: unknown, headers: Record<string, string> = {}) =>
  http(server.url, method, path, { headers: { ...bearer(token), ...headers }, ...(json === undefined ? {} : { json }) });
const post = (path: string, json: unknown) => http(server.url, 'POST', path, { json });
const currentStep = () => Math.floor(Date.now() / 1000 / PERIOD);

/** An authenticator app: each code it gives is of a later step than the last (the server takes each step once). */
class Authenticator {
  readonly #secret: Secret;
  #last = -1;
  constructor(base32: string) {
    this.#secret = Secret.fromBase32(base32);
  }
  codeAt(step: number): string {
    return TOTP.generate({ secret: this.#secret, algorithm: 'SHA1', digits: 6, period: PERIOD, timestamp: step * PERIOD * 1000 });
  }
  /** A fresh code: the current step, or the next one (within the server's window) when the current one was used. */
  async next(): Promise<string> {
    let step = Math.max(currentStep(), this.#last + 1);
    while (step > currentStep() + 1) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      step = Math.max(currentStep(), this.#last + 1);
    }
    this.#last = step;
    return this.codeAt(step);
  }
  /** Six digits that are none of the codes the server would take now. */
  wrong(): string {
    const taken = new Set([-2, -1, 0, 1, 2].map((d) => this.codeAt(currentStep() + d)));
    for (let n = 0; ; n += 1) {
      const candidate = String(n).padStart(6, '0');
      if (!taken.has(candidate)) return candidate;
    }
  }
}

/** Enrols and confirms a second factor for `user`; answers its authenticator and recovery codes. */
async function enrol(user: TestUser): Promise<{ app: Authenticator; recoveryCodes: string[]; secret: string }> {
  const started = await as(user.token)('POST', '/api/v1/auth/mfa/totp');
  expect(started.status).toBe(200);
  const app = new Authenticator(started.body.data.secret);
  const confirmed = await as(user.token)('POST', '/api/v1/auth/mfa/totp/confirm', { code: await app.next() });
  expect(confirmed.status).toBe(200);
  return { app, recoveryCodes: confirmed.body.data.recovery_codes, secret: started.body.data.secret };
}

async function challenge(email: string): Promise<string> {
  const res = await post('/api/v1/auth/login', { email, password: TEST_PASSWORD });
  expect(res.status).toBe(401);
  expect(res.body.error.code).toBe('AUTH_MFA_REQUIRED');
  expect(res.body).not.toHaveProperty('data');
  return res.body.mfa.mfa_token;
}

describe('TOTP enrolment and login', () => {
  let user: TestUser;
  let app: Authenticator;
  let recoveryCodes: string[];
  let secret: string;

  beforeAll(async () => {
    user = await createUser(server.url, server.adminToken, 'operator', [server.teamId], 'totp');
  });

  it('enrols: a base32 secret and an otpauth URI, pending until a code confirms it, then ten recovery codes', async () => {
    const before = await as(user.token)('GET', '/api/v1/auth/mfa/totp');
    expect(before.body.data).toEqual({ enabled: false, pending: false, confirmed_at: null, recovery_codes_remaining: 0 });

    const started = await as(user.token)('POST', '/api/v1/auth/mfa/totp');
    expect(started.status).toBe(200);
    expect(started.headers.get('cache-control')).toBe('no-store');
    expect(started.body.data).toMatchObject({ algorithm: 'SHA1', digits: 6, period: 30, issuer: 'Opsdeck', account: user.email });
    expect(started.body.data.secret).toMatch(/^[A-Z2-7]{32}$/);
    const uri = new URL(started.body.data.otpauth_uri);
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.searchParams.get('secret')).toBe(started.body.data.secret);
    expect((await as(user.token)('GET', '/api/v1/auth/mfa/totp')).body.data).toMatchObject({ enabled: false, pending: true });

    // Pending: a password login still answers tokens.
    expect((await post('/api/v1/auth/login', { email: user.email, password: TEST_PASSWORD })).status).toBe(200);

    secret = started.body.data.secret;
    app = new Authenticator(secret);
    const wrong = await as(user.token)('POST', '/api/v1/auth/mfa/totp/confirm', { code: app.wrong() });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe('AUTH_MFA_INVALID_CODE');

    const confirmed = await as(user.token)('POST', '/api/v1/auth/mfa/totp/confirm', { code: await app.next() });
    expect(confirmed.status).toBe(200);
    recoveryCodes = confirmed.body.data.recovery_codes;
    expect(recoveryCodes).toHaveLength(10);
    expect(new Set(recoveryCodes).size).toBe(10);
    for (const code of recoveryCodes) expect(code).toMatch(/^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$/);

    const status = await as(user.token)('GET', '/api/v1/auth/mfa/totp');
    expect(status.body.data).toMatchObject({ enabled: true, pending: false, recovery_codes_remaining: 10 });
    expect(Date.parse(status.body.data.confirmed_at)).not.toBeNaN();

    const again = await as(user.token)('POST', '/api/v1/auth/mfa/totp');
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('RES_CONFLICT');
    const reconfirm = await as(user.token)('POST', '/api/v1/auth/mfa/totp/confirm', { code: app.codeAt(currentStep()) });
    expect(reconfirm.status).toBe(409);
  });

  it('stores the secret sealed and the recovery codes as digests, never in plain text', async () => {
    const db = server.database.db;
    const row = await db.selectFrom('user_totp').selectAll().where('user_id', '=', user.id).executeTakeFirstOrThrow();
    expect(row.secret_ciphertext).not.toContain(secret);
    expect(row.secret_ciphertext.startsWith('v1.')).toBe(true);
    const stored = await db.selectFrom('user_recovery_codes').select('code_hash').where('user_id', '=', user.id).execute();
    expect(stored).toHaveLength(10);
    const hashes = stored.map((r) => r.code_hash);
    for (const code of recoveryCodes) {
      expect(hashes).not.toContain(code);
      expect(hashes).toContain(sha256(code.replaceAll('-', '')));
    }
    // Nothing in the database holds a plain code or the secret.
    const dump = JSON.stringify(await db.selectFrom('user_recovery_codes').selectAll().execute()) + JSON.stringify(await db.selectFrom('user_totp').selectAll().execute());
    expect(dump).not.toContain(secret);
    for (const code of recoveryCodes) expect(dump).not.toContain(code);
  });

  it('asks for a code at login: 401 AUTH_MFA_REQUIRED with a challenge, no tokens', async () => {
    const res = await post('/api/v1/auth/login', { email: user.email, password: TEST_PASSWORD });
    expect(res.status).toBe(401);
    expect(res.body.success).toBe(false);
    expect(res.body.error.code).toBe('AUTH_MFA_REQUIRED');
    expect(res.body.mfa).toMatchObject({ expires_in: 300, methods: ['totp', 'recovery_code'] });
    expect(res.body.mfa.mfa_token).toMatch(/^omt_/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.text).not.toContain('access_token');
    // A wrong password is still the plain refusal, without a challenge.
    const wrong = await post('/api/v1/auth/login', { email: user.email, password: 'not-the-password' });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe('AUTH_INVALID_CREDENTIALS');
    expect(wrong.body).not.toHaveProperty('mfa');
  });

  it('refuses a wrong code, takes the right one, and refuses that code a second time', async () => {
    const token = await challenge(user.email);
    const wrong = await post('/api/v1/auth/login/mfa', { mfa_token: token, code: app.wrong() });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe('AUTH_MFA_INVALID_CODE');

    const code = await app.next();
    const ok = await post('/api/v1/auth/login/mfa', { mfa_token: token, code });
    expect(ok.status).toBe(200);
    expect(ok.body.data).toMatchObject({ token_type: 'Bearer' });
    expect((await as(ok.body.data.access_token)('GET', '/api/v1/auth/profile')).body.data.email).toBe(user.email);

    // The challenge is spent by its success.
    const spent = await post('/api/v1/auth/login/mfa', { mfa_token: token, code: app.codeAt(currentStep() + 1) });
    expect(spent.status).toBe(401);
    expect(spent.body.error.code).toBe('AUTH_INVALID_TOKEN');

    // The same code again, on a new challenge, within its window: refused.
    const replay = await post('/api/v1/auth/login/mfa', { mfa_token: await challenge(user.email), code });
    expect(replay.status).toBe(401);
    expect(replay.body.error.code).toBe('AUTH_MFA_INVALID_CODE');

    const unknown = await post('/api/v1/auth/login/mfa', { mfa_token: 'omt_not-a-real-challenge-token', code: '123456' });
    expect(unknown.status).toBe(401);
    expect(unknown.body.error.code).toBe('AUTH_INVALID_TOKEN');
  });

  it('a password change spends the challenges won with the old password', async () => {
    const other = await createUser(server.url, server.adminToken, 'viewer', [], 'totp-password');
    const { app: otherApp } = await enrol(other);
    const token = await challenge(other.email);
    const changed = await as(other.token)('POST', '/api/v1/auth/password', { current_password: TEST_PASSWORD, new_password: 'another-password-123' });
    expect(changed.status).toBe(204);
    const res = await post('/api/v1/auth/login/mfa', { mfa_token: token, code: await otherApp.next() });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('AUTH_INVALID_TOKEN');
  });

  it('takes a recovery code once', async () => {
    const [first] = recoveryCodes;
    const ok = await post('/api/v1/auth/login/mfa', { mfa_token: await challenge(user.email), recovery_code: first!.toUpperCase() });
    expect(ok.status).toBe(200);
    expect(ok.body.data.access_token).toEqual(expect.any(String));
    const again = await post('/api/v1/auth/login/mfa', { mfa_token: await challenge(user.email), recovery_code: first });
    expect(again.status).toBe(401);
    expect(again.body.error.code).toBe('AUTH_MFA_INVALID_CODE');
    expect((await as(user.token)('GET', '/api/v1/auth/mfa/totp')).body.data.recovery_codes_remaining).toBe(9);
  });

  it('counts wrong codes as failed logins of the account (login throttle)', async () => {
    const target = await createUser(server.url, server.adminToken, 'viewer', [], 'totp-throttle');
    const { app: targetApp } = await enrol(target);
    const token = await challenge(target.email);
    const from = { 'x-forwarded-for': '203.0.113.77' };
    const codes: number[] = [];
    for (let i = 0; i < 6; i += 1) {
      const res = await http(server.url, 'POST', '/api/v1/auth/login/mfa', { json: { mfa_token: token, code: targetApp.wrong() }, headers: from });
      codes.push(res.status);
    }
    // Five wrong codes: the account is throttled, whatever comes next (a password login too).
    expect(codes.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(codes[5]).toBe(429);
    const login = await post('/api/v1/auth/login', { email: target.email, password: TEST_PASSWORD });
    expect(login.status).toBe(429);
    expect(login.headers.get('retry-after')).toMatch(/^\d+$/);
  });
});

describe('recovery codes and turning the second factor off', () => {
  it('regenerates the recovery codes (the old ones stop working), and disables with the password', async () => {
    const user = await createUser(server.url, server.adminToken, 'viewer', [server.teamId], 'totp-regen');
    const { app, recoveryCodes } = await enrol(user);
    const refused = await as(user.token)('POST', '/api/v1/auth/mfa/recovery-codes', { code: app.wrong() });
    expect(refused.status).toBe(401);
    expect(refused.body.error.code).toBe('AUTH_MFA_INVALID_CODE');
    const fresh = await as(user.token)('POST', '/api/v1/auth/mfa/recovery-codes', { code: await app.next() });
    expect(fresh.status).toBe(200);
    expect(fresh.body.data.recovery_codes).toHaveLength(10);
    expect(fresh.body.data.recovery_codes.some((c: string) => recoveryCodes.includes(c))).toBe(false);

    const old = await post('/api/v1/auth/login/mfa', { mfa_token: await challenge(user.email), recovery_code: recoveryCodes[0] });
    expect(old.status).toBe(401);
    expect(old.body.error.code).toBe('AUTH_MFA_INVALID_CODE');
    const current = await post('/api/v1/auth/login/mfa', { mfa_token: await challenge(user.email), recovery_code: fresh.body.data.recovery_codes[3] });
    expect(current.status).toBe(200);

    const wrongPassword = await as(user.token)('DELETE', '/api/v1/auth/mfa/totp', { password: 'not-the-password' });
    expect(wrongPassword.status).toBe(401);
    expect(wrongPassword.body.error.code).toBe('AUTH_INVALID_CREDENTIALS');
    const off = await as(user.token)('DELETE', '/api/v1/auth/mfa/totp', { password: TEST_PASSWORD });
    expect(off.status).toBe(204);
    expect((await as(user.token)('GET', '/api/v1/auth/mfa/totp')).body.data).toEqual({ enabled: false, pending: false, confirmed_at: null, recovery_codes_remaining: 0 });
    expect(await server.database.db.selectFrom('user_recovery_codes').select('id').where('user_id', '=', user.id).execute()).toEqual([]);
    // A password login answers tokens again.
    expect((await login(server.url, user.email, TEST_PASSWORD)).access_token).toEqual(expect.any(String));
    const gone = await as(user.token)('DELETE', '/api/v1/auth/mfa/totp', { password: TEST_PASSWORD });
    expect(gone.status).toBe(404);
  });

  it('disables with a current code', async () => {
    const user = await createUser(server.url, server.adminToken, 'viewer', [server.teamId], 'totp-off');
    const { app } = await enrol(user);
    const wrong = await as(user.token)('DELETE', '/api/v1/auth/mfa/totp', { code: app.wrong() });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe('AUTH_MFA_INVALID_CODE');
    const off = await as(user.token)('DELETE', '/api/v1/auth/mfa/totp', { code: await app.next() });
    expect(off.status).toBe(204);
    expect((await post('/api/v1/auth/login', { email: user.email, password: TEST_PASSWORD })).status).toBe(200);
  });
});

describe('administrators and the authentication policy', () => {
  it('an admin with TOTP cannot log in without the code', async () => {
    const admin = await createUser(server.url, server.adminToken, 'admin', [server.teamId], 'totp-admin');
    const { app } = await enrol(admin);
    const token = await challenge(admin.email);
    const without = await post('/api/v1/auth/login/mfa', { mfa_token: token });
    expect(without.status).toBe(422);
    const ok = await post('/api/v1/auth/login/mfa', { mfa_token: token, code: await app.next() });
    expect(ok.status).toBe(200);
  });

  it('requires TOTP for admins: an admin without it is refused with AUTH_MFA_ENROLMENT_REQUIRED, others are not', async () => {
    const policyAdmin = await createUser(server.url, server.adminToken, 'admin', [server.teamId], 'policy-admin');
    const bare = await createUser(server.url, server.adminToken, 'admin', [server.teamId], 'bare-admin');
    const operator = await createUser(server.url, server.adminToken, 'operator', [server.teamId], 'policy-op');
    const viewerOnly = await as(operator.token)('GET', '/api/v1/admin/auth-policy');
    expect(viewerOnly.status).toBe(403);

    const initial = await as(server.adminToken)('GET', '/api/v1/admin/auth-policy');
    expect(initial.status).toBe(200);
    expect(initial.body.data.require_totp_for_roles).toEqual([]);
    const etag = initial.headers.get('etag')!;

    // Requiring it for one's own role without one's own second factor would lock one out: refused.
    const lockout = await as(server.adminToken)('PUT', '/api/v1/admin/auth-policy', { require_totp_for_roles: ['admin'] });
    expect(lockout.status).toBe(409);
    expect(lockout.body.error.code).toBe('RES_CONFLICT');

    await enrol(policyAdmin);
    const stale = await as(policyAdmin.token)('PUT', '/api/v1/admin/auth-policy', { require_totp_for_roles: ['admin'] }, { 'if-match': '"not-the-etag"' });
    expect(stale.status).toBe(412);
    const set = await as(policyAdmin.token)('PUT', '/api/v1/admin/auth-policy', { require_totp_for_roles: ['admin', 'admin'] }, { 'if-match': etag });
    expect(set.status === 422 || set.status === 400).toBe(true);
    const done = await as(policyAdmin.token)('PUT', '/api/v1/admin/auth-policy', { require_totp_for_roles: ['admin'] }, { 'if-match': etag });
    expect(done.status).toBe(200);
    expect(done.body.data.require_totp_for_roles).toEqual(['admin']);

    for (let i = 0; i < 2; i += 1) {
      const refused = await post('/api/v1/auth/login', { email: bare.email, password: TEST_PASSWORD });
      expect(refused.status).toBe(403);
      expect(refused.body.error.code).toBe('AUTH_MFA_ENROLMENT_REQUIRED');
      expect(refused.text).not.toContain('access_token');
    }
    // A wrong password is still only a wrong password (the policy says nothing before the password is proven).
    expect((await post('/api/v1/auth/login', { email: bare.email, password: 'not-the-password' })).body.error.code).toBe('AUTH_INVALID_CREDENTIALS');
    // Operators are not concerned; an admin with a second factor gets the challenge.
    expect((await post('/api/v1/auth/login', { email: operator.email, password: TEST_PASSWORD })).status).toBe(200);
    await challenge(policyAdmin.email);
    // A session opened before goes on, so the admin can enrol, and then logs in with a code.
    const { app } = await enrol(bare);
    const ok = await post('/api/v1/auth/login/mfa', { mfa_token: await challenge(bare.email), code: await app.next() });
    expect(ok.status).toBe(200);

    // Audited (written after the answer): the refusal and the change, with who made them.
    await expect
      .poll(async () => {
        const audit = await as(server.adminToken)('GET', '/api/v1/admin/audit?operation_id=replaceAuthPolicy');
        return audit.body.data.map((e: { outcome: string; status: number }) => `${e.outcome} ${e.status}`).sort();
      })
      .toEqual(expect.arrayContaining(['failure 409', 'failure 412', 'success 200']));

    // The way back in after a lock-out: OPSDECK_AUTH_POLICY_RESET empties the policy at start.
    await resetAuthPolicy(server.database.db, createLogger('silent'));
    expect((await as(server.adminToken)('GET', '/api/v1/admin/auth-policy')).body.data.require_totp_for_roles).toEqual([]);
  });
});

describe('the SDK', () => {
  it('completes a login with a second factor: through secondFactor, or later with completeLogin', async () => {
    const user = await createUser(server.url, server.adminToken, 'viewer', [server.teamId], 'totp-sdk');
    const { app, recoveryCodes } = await enrol(user);
    const asked: string[] = [];
    const client = createOpsdeckClient({ baseUrl: server.url, retries: false });
    const pair = await client.login(user.email, TEST_PASSWORD, {
      secondFactor: async (challenge) => {
        asked.push(challenge.mfa_token);
        return { code: await app.next() };
      },
    });
    expect(asked).toHaveLength(1);
    expect(client.session.accessToken).toBe(pair.access_token);
    expect((await unwrap(client.GET('/api/v1/auth/profile'))).email).toBe(user.email);

    const later = createOpsdeckClient({ baseUrl: server.url, retries: false });
    const error = await later.login(user.email, TEST_PASSWORD).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MfaRequiredError);
    expect(error).toMatchObject({ code: 'AUTH_MFA_REQUIRED', status: 401 });
    expect(later.session.accessToken).toBeUndefined();
    await later.completeLogin((error as MfaRequiredError).challenge.mfa_token, { recovery_code: recoveryCodes[0]! });
    expect((await unwrap(later.GET('/api/v1/auth/mfa/totp'))).recovery_codes_remaining).toBe(9);
  });
});
