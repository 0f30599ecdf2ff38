// Sign-in through an identity provider, browser-less, over HTTP: a real OpenID Connect server on loopback
// (oauth2-mock-server: discovery, PKCE, ID tokens signed with a real key) and a small fake of GitHub (its
// authorize and token endpoints and the REST API's user, emails, orgs and teams). Each redirect is followed by
// hand (`redirect: 'manual'`), as a browser would. The result is the same token pair as a password login.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OAuth2Server } from 'oauth2-mock-server';
import { startTestServer, type TestServer } from '../support/server.ts';
import { bearer, createTeam, createUser, login, TEST_PASSWORD } from '../support/identity.ts';
import { http } from '../support/http.ts';

const ALLOWED_REDIRECT = 'https://console.example.com/signed-in';

// ── a fake of GitHub ──────────────────────────────────────────────────────────────────────────────────────────

interface GithubUser {
  id: number;
  login: string;
  name: string;
  emails: Array<{ email: string; verified: boolean; primary: boolean }>;
  orgs: string[];
  teams: Array<{ org: string; slug: string }>;
}

class FakeGithub {
  readonly server: Server;
  /** Who signs in at the next authorize. */
  nextUser: GithubUser | undefined;
  /** The token endpoint does not answer (a provider that is down). */
  hang = false;
  readonly #codes = new Map<string, { user: GithubUser; challenge: string; redirectUri: string; used: boolean }>();
  readonly #tokens = new Map<string, GithubUser>();

  constructor() {
    this.server = createServer((req, res) => void this.#handle(req, res));
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async #handle(req: IncomingMessage, res: import('node:http').ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (req.method === 'GET' && url.pathname === '/login/oauth/authorize') {
      const q = url.searchParams;
      if (q.get('client_id') !== 'gh-client' || q.get('code_challenge_method') !== 'S256' || !q.get('code_challenge') || !q.get('state')) return json(400, { error: 'bad request' });
      const code = randomBytes(10).toString('hex');
      this.#codes.set(code, { user: this.nextUser!, challenge: q.get('code_challenge')!, redirectUri: q.get('redirect_uri')!, used: false });
      const back = new URL(q.get('redirect_uri')!);
      back.searchParams.set('code', code);
      back.searchParams.set('state', q.get('state')!);
      res.writeHead(302, { location: back.href }).end();
      return;
    }
    if (req.method === 'POST' && url.pathname === '/login/oauth/access_token') {
      if (this.hang) return; // never answers
      let raw = '';
      for await (const chunk of req) raw += chunk;
      const form = new URLSearchParams(raw);
      const grant = this.#codes.get(form.get('code') ?? '');
      const challenge = createHash('sha256').update(form.get('code_verifier') ?? '').digest('base64url');
      // GitHub answers a refused code with 200 and an error body.
      if (form.get('client_id') !== 'gh-client' || form.get('client_secret') !== 'gh-secret') return json(200, { error: 'incorrect_client_credentials' });
      if (!grant || grant.used || grant.challenge !== challenge || grant.redirectUri !== form.get('redirect_uri')) return json(200, { error: 'bad_verification_code' });
      grant.used = true;
      const token = `gho_${randomBytes(12).toString('hex')}`;
      this.#tokens.set(token, grant.user);
      return json(200, { access_token: token, token_type: 'bearer', scope: 'read:user,user:email,read:org' });
    }
    const user = this.#tokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (!user) return json(401, { message: 'Bad credentials' });
    if (url.pathname === '/user') return json(200, { id: user.id, login: user.login, name: user.name });
    if (url.pathname === '/user/emails') return json(200, user.emails.map((e) => ({ ...e, visibility: null })));
    if (url.pathname === '/user/orgs') return json(200, user.orgs.map((login) => ({ login })));
    if (url.pathname === '/user/teams') return json(200, user.teams.map((t) => ({ slug: t.slug, organization: { login: t.org } })));
    json(404, { message: 'Not Found' });
  }
}

// ── the servers ──────────────────────────────────────────────────────────────────────────────────────────────

let server: TestServer;
let github: FakeGithub;
let oidc: OAuth2Server;
/** Claims the OIDC server adds to the next tokens it signs. */
let oidcClaims: Record<string, unknown> = {};
let sreTeam: string;
let platformTeam: string;

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

beforeAll(async () => {
  github = new FakeGithub();
  await new Promise<void>((resolve) => github.server.listen(0, '127.0.0.1', resolve));
  oidc = new OAuth2Server();
  await oidc.issuer.keys.generate('RS256');
  await oidc.start(0, '127.0.0.1');
  oidc.issuer.url = `http://127.0.0.1:${oidc.address().port}`;
  oidc.service.on('beforeTokenSigning', (token: { payload: Record<string, unknown> }) => Object.assign(token.payload, oidcClaims));

  const port = await freePort();
  server = await startTestServer({
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    OAUTH_REDIRECT_URIS: `${ALLOWED_REDIRECT},http://127.0.0.1:9/other`,
    OAUTH_PROVIDER_TIMEOUT_MS: '1000',
    GITHUB_CLIENT_ID: 'gh-client',
    GITHUB_CLIENT_SECRET: 'gh-secret',
    GITHUB_AUTHORIZE_URL: `${github.url}/login/oauth/authorize`,
    GITHUB_TOKEN_URL: `${github.url}/login/oauth/access_token`,
    GITHUB_API_URL: github.url,
    GITHUB_TEAM_MAP: JSON.stringify({ 'Acme/SRE': { team: 'SRE', role: 'operator' }, acme: { team: 'Acme staff', role: 'viewer' } }),
    OIDC_ISSUER: oidc.issuer.url,
    OIDC_CLIENT_ID: 'opsdeck',
    OIDC_CLIENT_SECRET: 'oidc-secret',
    OIDC_TEAM_MAP: JSON.stringify({ 'ops-admins': { team: 'Platform', role: 'admin' } }),
  });
  sreTeam = await createTeam(server.url, server.adminToken, 'SRE');
  platformTeam = await createTeam(server.url, server.adminToken, 'Platform');
}, 60_000);

afterAll(async () => {
  await server?.close();
  await oidc?.stop();
  await new Promise((resolve) => github?.server.close(resolve));
});

// ── the browser, by hand ─────────────────────────────────────────────────────────────────────────────────────

const manual = (url: string, headers: Record<string, string> = {}) => fetch(url, { redirect: 'manual', headers });

/** startOAuthSignIn, then the provider's authorize: the callback URL the provider sends the browser back to. */
async function throughProvider(provider: 'github' | 'oidc', redirectUri?: string): Promise<URL> {
  const query = redirectUri ? `?redirect_uri=${encodeURIComponent(redirectUri)}` : '';
  const started = await manual(`${server.url}/api/v1/auth/oauth/${provider}${query}`, { accept: 'text/html' });
  expect(started.status, await started.clone().text()).toBe(302);
  const authorize = new URL(started.headers.get('location')!);
  expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
  expect(authorize.searchParams.get('state')).toBeTruthy();
  if (provider === 'oidc') expect(authorize.searchParams.get('nonce')).toBeTruthy();
  const back = await manual(authorize.href);
  expect(back.status).toBe(302);
  const callback = new URL(back.headers.get('location')!);
  expect(callback.pathname).toBe(`/api/v1/auth/oauth/${provider}/callback`);
  return callback;
}

async function callback(url: URL | string) {
  const response = await manual(String(url));
  const text = await response.text();
  return { status: response.status, location: response.headers.get('location'), body: text ? JSON.parse(text) : undefined, text };
}

const exchange = (provider: string, code: string) => http(server.url, 'POST', '/api/v1/auth/oauth/token', { json: { provider, code } });

/** The whole sign-in of an API client: the one-time code as JSON, exchanged for a token pair. */
async function signIn(provider: 'github' | 'oidc'): Promise<{ access_token: string; refresh_token: string }> {
  const answered = await callback(await throughProvider(provider));
  expect(answered.status, answered.text).toBe(200);
  expect(answered.body.data).toMatchObject({ provider, expires_in: 60 });
  const tokens = await exchange(provider, answered.body.data.code);
  expect(tokens.status, tokens.text).toBe(200);
  expect(tokens.body.data).toMatchObject({ token_type: 'Bearer', expires_in: 900 });
  return tokens.body.data;
}

const profileOf = async (token: string) => {
  const res = await http(server.url, 'GET', '/api/v1/auth/profile', { headers: bearer(token) });
  expect(res.status, res.text).toBe(200);
  return res.body.data;
};

const membersOf = async (teamId: string): Promise<string[]> => {
  const res = await http(server.url, 'GET', `/api/v1/teams/${teamId}/members?limit=100`, { headers: bearer(server.adminToken) });
  expect(res.status, res.text).toBe(200);
  return res.body.data.map((m: { id?: string; user_id?: string }) => m.user_id ?? m.id);
};

let serial = 0;
function githubUser(overrides: Partial<GithubUser> = {}): GithubUser {
  serial += 1;
  return {
    id: 1000 + serial,
    login: `octo${serial}`,
    name: `Octo ${serial}`,
    emails: [
      { email: `octo${serial}-old@users.example.com`, verified: false, primary: false },
      { email: `octo${serial}-${process.pid}@example.com`, verified: true, primary: true },
    ],
    orgs: ['acme'],
    teams: [{ org: 'acme', slug: 'sre' }],
    ...overrides,
  };
}

// ── the proofs ───────────────────────────────────────────────────────────────────────────────────────────────

describe('sign-in through GitHub', () => {
  it('creates the user from the verified primary email, maps org/team to team and role, and answers a working token pair', async () => {
    const user = githubUser();
    github.nextUser = user;
    const tokens = await signIn('github');
    const profile = await profileOf(tokens.access_token);
    expect(profile).toMatchObject({ email: user.emails[1]!.email, name: user.name, role: 'operator' });
    expect(await membersOf(sreTeam)).toContain(profile.id);
    // The refresh token is a real one: it rotates.
    const refreshed = await http(server.url, 'POST', '/api/v1/auth/refresh', { json: { refresh_token: tokens.refresh_token } });
    expect(refreshed.status, refreshed.text).toBe(200);
    // A user made this way has no password: no password signs it in.
    for (const password of ['', '!external', TEST_PASSWORD]) {
      const refused = await http(server.url, 'POST', '/api/v1/auth/login', { json: { email: profile.email, password: password || 'x' } });
      expect(refused.status).toBe(401);
    }
    // The same GitHub user signing in again is the same Opsdeck user.
    github.nextUser = user;
    expect((await profileOf((await signIn('github')).access_token)).id).toBe(profile.id);
  });

  it('sends a browser back to an allowed redirect_uri with a one-time code', async () => {
    github.nextUser = githubUser({ orgs: [], teams: [] });
    const answered = await callback(await throughProvider('github', ALLOWED_REDIRECT));
    expect(answered.status, answered.text).toBe(302);
    const location = new URL(answered.location!);
    expect(`${location.origin}${location.pathname}`).toBe(ALLOWED_REDIRECT);
    expect(location.searchParams.get('provider')).toBe('github');
    const tokens = await exchange('github', location.searchParams.get('code')!);
    expect(tokens.status, tokens.text).toBe(200);
    expect((await profileOf(tokens.body.data.access_token)).role).toBe('viewer');
    // The Opsdeck code is spent on first use, and belongs to its provider.
    const again = await exchange('github', location.searchParams.get('code')!);
    expect(again.status).toBe(400);
    expect(again.body.error.code).toBe('AUTH_OAUTH_CODE_INVALID');
  });

  it('refuses a redirect_uri that is not on the list, before going anywhere', async () => {
    for (const uri of ['https://evil.example.com/signed-in', `${ALLOWED_REDIRECT}/../x`, `${ALLOWED_REDIRECT}?next=1`, 'https://console.example.com']) {
      const res = await manual(`${server.url}/api/v1/auth/oauth/github?redirect_uri=${encodeURIComponent(uri)}`);
      expect(res.status).toBe(400);
      expect(res.headers.get('location')).toBeNull();
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('VAL_REDIRECT_URI_NOT_ALLOWED');
    }
  });

  it('refuses a tampered state, a replayed callback, a replayed provider code and a replayed Opsdeck code', async () => {
    github.nextUser = githubUser();
    const url = await throughProvider('github');
    const tampered = new URL(url);
    tampered.searchParams.set('state', `${url.searchParams.get('state')}x`);
    const refused = await callback(tampered);
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe('AUTH_OAUTH_STATE_INVALID');
    // A state of another provider is not this provider's.
    const crossed = new URL(url);
    crossed.pathname = '/api/v1/auth/oauth/oidc/callback';
    expect((await callback(crossed)).body.error.code).toBe('AUTH_OAUTH_STATE_INVALID');
    // `crossed` spent the state: the genuine callback is refused too (a state is good for one callback).
    expect((await callback(url)).body.error.code).toBe('AUTH_OAUTH_STATE_INVALID');

    const fresh = await throughProvider('github');
    const ok = await callback(fresh);
    expect(ok.status, ok.text).toBe(200);
    const replayed = await callback(fresh);
    expect(replayed.status).toBe(400);
    expect(replayed.body.error.code).toBe('AUTH_OAUTH_STATE_INVALID');

    // The provider's spent code, presented with a new, valid state: GitHub refuses it.
    const next = await throughProvider('github');
    next.searchParams.set('code', fresh.searchParams.get('code')!);
    const spent = await callback(next);
    expect(spent.status, spent.text).toBe(400);
    expect(spent.body.error.code).toBe('AUTH_OAUTH_CODE_INVALID');

    const first = await exchange('github', ok.body.data.code);
    expect(first.status).toBe(200);
    const second = await exchange('github', ok.body.data.code);
    expect(second.status).toBe(400);
    expect(second.body.error.code).toBe('AUTH_OAUTH_CODE_INVALID');
    expect((await exchange('oidc', 'osc_never-issued')).body.error.code).toBe('AUTH_OAUTH_CODE_INVALID');
  });

  it('refuses an expired state', async () => {
    github.nextUser = githubUser();
    const url = await throughProvider('github');
    await server.database.db.updateTable('oauth_grants').set({ expires_at: new Date(Date.now() - 1000) }).where('kind', '=', 'state').execute();
    const expired = await callback(url);
    expect(expired.status).toBe(400);
    expect(expired.body.error.code).toBe('AUTH_OAUTH_STATE_INVALID');
    expect(expired.body.error.message).toMatch(/expired/);
  });

  it('refuses a user without a verified email, and creates nobody', async () => {
    const user = githubUser();
    user.emails = user.emails.map((e) => ({ ...e, verified: false }));
    github.nextUser = user;
    const refused = await callback(await throughProvider('github'));
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('AUTH_EMAIL_UNVERIFIED');
    const found = await http(server.url, 'GET', `/api/v1/admin/users?search=${encodeURIComponent(`octo${serial}-`)}`, { headers: bearer(server.adminToken) });
    expect(found.status, found.text).toBe(200);
    expect(found.body.data).toEqual([]);
  });

  it('answers a bounded 503 when GitHub does not answer', async () => {
    github.nextUser = githubUser();
    const url = await throughProvider('github');
    github.hang = true;
    try {
      const startedAt = Date.now();
      const down = await callback(url);
      expect(down.status).toBe(503);
      expect(down.body.error.code).toBe('EXT_IDENTITY_PROVIDER_UNAVAILABLE');
      expect(Date.now() - startedAt).toBeLessThan(5000);
    } finally {
      github.hang = false;
    }
  });

  it('answers the authorization URL as JSON to a client that asks for JSON', async () => {
    const res = await http(server.url, 'GET', '/api/v1/auth/oauth/github', { headers: { accept: 'application/json' } });
    expect(res.status, res.text).toBe(200);
    expect(res.body.data.authorization_url).toMatch(new RegExp(`^${github.url}/login/oauth/authorize\\?`));
    expect(res.headers.get('cache-control')).toBe('no-store');
  });
});

describe('sign-in through OpenID Connect', () => {
  it('validates the ID token (nonce included), maps groups, and matches an existing password user by verified email', async () => {
    const existing = await createUser(server.url, server.adminToken, 'viewer', [], 'oidc-match');
    oidcClaims = { email: existing.email.toUpperCase(), email_verified: true, name: 'Ada', groups: ['ops-admins', 'unmapped'] };
    const tokens = await signIn('oidc');
    const profile = await profileOf(tokens.access_token);
    // Matched, not duplicated: the same user, its role raised by the team map, its team added.
    expect(profile.id).toBe(existing.id);
    expect(profile.role).toBe('admin');
    expect(await membersOf(platformTeam)).toContain(existing.id);
    const found = await http(server.url, 'GET', `/api/v1/admin/users?search=${encodeURIComponent(existing.email)}`, { headers: bearer(server.adminToken) });
    expect(found.body.data).toHaveLength(1);
    // Its password still signs it in.
    expect((await login(server.url, existing.email, TEST_PASSWORD)).access_token).toBeTruthy();
  });

  it('creates a new user from a verified email', async () => {
    const email = `oidc-new-${process.pid}-${Date.now()}@example.com`;
    oidcClaims = { email, email_verified: true, name: 'Grace' };
    const profile = await profileOf((await signIn('oidc')).access_token);
    expect(profile).toMatchObject({ email, name: 'Grace', role: 'viewer' });
  });

  it('refuses an email the provider does not say is verified', async () => {
    for (const claims of [{ email: `unverified-${process.pid}@example.com`, email_verified: false }, { email: `unsaid-${process.pid}@example.com` }]) {
      oidcClaims = claims;
      const refused = await callback(await throughProvider('oidc'));
      expect(refused.status, refused.text).toBe(403);
      expect(refused.body.error.code).toBe('AUTH_EMAIL_UNVERIFIED');
    }
  });

  it('refuses an ID token whose nonce is not the sign-in\'s', async () => {
    oidcClaims = { email: `nonce-${process.pid}@example.com`, email_verified: true, nonce: 'another-nonce' };
    const refused = await callback(await throughProvider('oidc'));
    expect(refused.status, refused.text).toBe(400);
    expect(refused.body.error.code).toBe('AUTH_OAUTH_CODE_INVALID');
  });

  it('audits the exchanges, refused and accepted, as it audits password logins', async () => {
    const res = await http(server.url, 'GET', '/api/v1/admin/audit?limit=100', { headers: bearer(server.adminToken) });
    expect(res.status, res.text).toBe(200);
    const operations = res.body.data.map((e: { operation_id?: string; action?: string }) => e.operation_id ?? e.action);
    expect(operations).toContain('exchangeOAuthCode');
    const exchanges = res.body.data.filter((e: { operation_id: string }) => e.operation_id === 'exchangeOAuthCode');
    expect(exchanges.map((e: { status: number }) => e.status)).toEqual(expect.arrayContaining([200, 400]));
    // An accepted exchange names the user it signed in.
    const accepted = exchanges.find((e: { status: number }) => e.status === 200);
    expect(accepted.actor).toMatchObject({ user_id: expect.stringMatching(/^[0-9a-f-]{36}$/), email: expect.stringMatching(/@/) });
  });
});
