// The identity providers' configuration (config.ts): a provider is on only when fully configured, its URLs are
// https (http only on loopback), its team map is well-formed, and it needs PUBLIC_URL for its callback.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../server/config.ts';

const github = { GITHUB_CLIENT_ID: 'id', GITHUB_CLIENT_SECRET: 'secret', PUBLIC_URL: 'https://opsdeck.example.com' };

function refusal(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('the configuration was accepted');
}

describe('identity provider configuration', () => {
  it('is off by default, and GitHub takes its public endpoints by default', () => {
    expect(loadConfig({}).oauth).toMatchObject({ github: undefined, oidc: undefined, redirectUris: [], stateTtlSeconds: 600, codeTtlSeconds: 60 });
    expect(loadConfig(github).oauth.github).toMatchObject({
      authorizeUrl: 'https://github.com/login/oauth/authorize',
      tokenUrl: 'https://github.com/login/oauth/access_token',
      apiUrl: 'https://api.github.com',
      teamMap: {},
    });
  });

  it('names the variable that is wrong', () => {
    expect(refusal({ GITHUB_CLIENT_ID: 'id', PUBLIC_URL: 'https://x.example.com' }).variable).toBe('GITHUB_CLIENT_SECRET');
    expect(refusal({ OIDC_CLIENT_ID: 'opsdeck' }).variable).toBe('OIDC_ISSUER');
    expect(refusal({ GITHUB_CLIENT_ID: 'id', GITHUB_CLIENT_SECRET: 's' }).variable).toBe('PUBLIC_URL');
    expect(refusal({ ...github, GITHUB_API_URL: 'http://api.example.com' }).variable).toBe('GITHUB_API_URL');
    expect(refusal({ ...github, GITHUB_TEAM_MAP: '{"acme/sre": {"team": "SRE", "role": "root"}}' }).variable).toBe('GITHUB_TEAM_MAP');
    expect(refusal({ ...github, GITHUB_TEAM_MAP: '["acme"]' }).variable).toBe('GITHUB_TEAM_MAP');
    expect(refusal({ OAUTH_REDIRECT_URIS: 'javascript:alert(1)' }).variable).toBe('OAUTH_REDIRECT_URIS');
    expect(refusal({ OAUTH_REDIRECT_URIS: 'https://a.example.com/#x' }).variable).toBe('OAUTH_REDIRECT_URIS');
  });

  it('allows http to a loopback provider, and reads the team map with viewer as the default role', () => {
    const config = loadConfig({
      OIDC_ISSUER: 'http://127.0.0.1:8081',
      OIDC_CLIENT_ID: 'opsdeck',
      PUBLIC_URL: 'http://127.0.0.1:8080',
      OIDC_TEAM_MAP: '{"ops": {"team": "Platform"}}',
      OAUTH_REDIRECT_URIS: 'https://console.example.com/signed-in, http://localhost:3000/cb',
    });
    expect(config.oauth.oidc).toMatchObject({ issuer: 'http://127.0.0.1:8081', clientSecret: undefined, scopes: 'openid email profile', groupsClaim: 'groups', teamMap: { ops: { team: 'Platform', role: 'viewer' } } });
    expect(config.oauth.redirectUris).toEqual(['https://console.example.com/signed-in', 'http://localhost:3000/cb']);
  });
});
