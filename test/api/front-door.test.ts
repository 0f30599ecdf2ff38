// The front door over HTTP: GET / answers a JSON index, or sends a browser to the docs (303, by Accept); the
// contract and the docs name the server's real origin (the request's, X-Forwarded-* only behind TRUST_PROXY,
// PUBLIC_URL above all) instead of localhost:8080, never a forged Host, with ETags; the start-up line lists
// every URL the README names.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spec } from '../../server/contract.ts';
import { prefersHtml } from '../../server/modules/system/front-door.handlers.ts';
import { version } from '../../server/version.ts';
import { startChildServer } from '../support/child-server.ts';
import { http } from '../support/http.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const CHROME_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';
const DEVELOPMENT_URL = spec.servers![0]!.url;

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

/** A GET with exactly these headers (Host included, which fetch does not let a caller set). */
function rawGet(base: string, path: string, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'GET', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('GET /', () => {
  it('answers a JSON index of where things are to curl, JSON clients and no Accept at all', async () => {
    for (const accept of [undefined, '*/*', 'application/json', 'application/json, text/html;q=0.5']) {
      const res = await http(server.url, 'GET', '/', accept ? { headers: { accept } } : {});
      expect(res.status, accept).toBe(200);
      expect(res.headers.get('vary')).toBe('Accept');
      expect(res.body.data).toEqual({
        name: 'opsdeck',
        version,
        api_version: spec.info.version,
        links: {
          docs: '/docs',
          openapi_json: '/openapi.json',
          openapi_yaml: '/openapi.yaml',
          asyncapi_json: '/asyncapi.json',
          api_v1: '/api/v1',
          api_v2: '/api/v2',
          health_live: '/health/live',
          health_ready: '/health/ready',
          metrics: '/metrics',
          version: '/api/v1/system/version',
        },
      });
    }
    // Every link leads somewhere that answers (the API bases are prefixes, not operations).
    const { links } = (await http(server.url, 'GET', '/')).body.data as { links: Record<string, string> };
    for (const [name, path] of Object.entries(links)) {
      if (name.startsWith('api_v')) continue;
      expect((await http(server.url, 'GET', path)).status, path).toBe(200);
    }
  });

  it('sends a browser to the docs with 303', async () => {
    const res = await fetch(`${server.url}/`, { headers: { accept: CHROME_ACCEPT }, redirect: 'manual' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/docs');
    expect(res.headers.get('vary')).toBe('Accept');
    expect(await res.text()).toBe('');
    const followed = await fetch(`${server.url}/`, { headers: { accept: CHROME_ACCEPT } });
    expect(followed.url).toBe(`${server.url}/docs`);
    expect(followed.headers.get('content-type')).toBe('text/html; charset=utf-8');
  });

  it('reads Accept by quality and order', () => {
    expect(prefersHtml(CHROME_ACCEPT)).toBe(true);
    expect(prefersHtml('text/html')).toBe(true);
    expect(prefersHtml('text/html, application/json')).toBe(true);
    expect(prefersHtml('application/json, text/html')).toBe(false);
    expect(prefersHtml('text/html;q=0.5, application/json')).toBe(false);
    expect(prefersHtml('text/html;q=0')).toBe(false);
    expect(prefersHtml('*/*')).toBe(false);
    expect(prefersHtml('text/*')).toBe(false);
    expect(prefersHtml(undefined)).toBe(false);
  });
});

describe('the contract and the docs name the real origin', () => {
  it("lists the request's origin as the server in /openapi.json, /openapi.yaml and /docs, code samples included", async () => {
    const origin = new URL(server.url).origin;
    const json = await http(server.url, 'GET', '/openapi.json');
    expect(json.status).toBe(200);
    expect(json.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(json.body.servers[0]).toEqual({ url: origin, description: 'This Opsdeck server.', 'x-internal': false });
    expect(json.body.servers.slice(1)).toEqual(spec.servers!.slice(1));
    expect(json.text).not.toContain(DEVELOPMENT_URL);
    expect(json.text).toContain(`curl '${origin}/api/v1/system/version'`);
    // Apart from the origin, the served contract is the generated one.
    expect({ ...json.body, servers: spec.servers }).toEqual(JSON.parse(JSON.stringify(spec).replaceAll(DEVELOPMENT_URL, origin).replaceAll(spec.servers![0]!.description!, 'This Opsdeck server.').replace(`"url":"${origin}","description":"This Opsdeck server."`, `"url":"${DEVELOPMENT_URL}","description":"${spec.servers![0]!.description}"`)));
    const yaml = await http(server.url, 'GET', '/openapi.yaml');
    expect(yaml.headers.get('content-type')).toBe('application/yaml; charset=utf-8');
    expect(yaml.text).toContain(`url: ${origin}`);
    expect(yaml.text).not.toContain(DEVELOPMENT_URL);
    const docs = await http(server.url, 'GET', '/docs');
    expect(docs.text).toContain(origin);
    expect(docs.text).not.toContain(DEVELOPMENT_URL);
  });

  it('answers 304 to a matching If-None-Match, and a copy per origin', async () => {
    const first = await http(server.url, 'GET', '/openapi.json');
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    expect(first.headers.get('cache-control')).toBe('no-cache');
    const again = await http(server.url, 'GET', '/openapi.json', { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    expect(again.text).toBe('');
    const port = new URL(server.url).port;
    const other = await rawGet(server.url, '/openapi.json', { host: `localhost:${port}` });
    expect(JSON.parse(other.text).servers[0].url).toBe(`http://localhost:${port}`);
    expect(other.headers.etag).not.toBe(etag);
    expect(other.headers.vary).toBe('Host');
  });

  it('makes copies for the first few origins only; a flood of made-up Hosts gets the files as generated', async () => {
    const fresh = await startTestServer();
    try {
      const port = new URL(fresh.url).port;
      const origins = ['a', 'b', 'c', 'd', 'e', 'f'].map((name) => `${name}.example.com:${port}`);
      const named = [];
      for (const host of origins) named.push(JSON.parse((await rawGet(fresh.url, '/openapi.json', { host })).text).servers[0].url as string);
      expect(named).toEqual([...origins.slice(0, 4).map((host) => `http://${host}`), DEVELOPMENT_URL, DEVELOPMENT_URL]);
      // The first ones keep theirs.
      expect(JSON.parse((await rawGet(fresh.url, '/openapi.json', { host: origins[0]! })).text).servers[0].url).toBe(`http://${origins[0]}`);
    } finally {
      await fresh.close();
    }
  });

  it('never writes a forged Host into a document, and believes X-Forwarded-* only behind TRUST_PROXY', async () => {
    const forged = await rawGet(server.url, '/docs', { host: 'evil.example"><script>alert(1)</script>' });
    expect(forged.status).toBe(200);
    expect(forged.text).not.toContain('evil.example');
    const ignored = await rawGet(server.url, '/openapi.json', { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'api.example.com' });
    expect(JSON.parse(ignored.text).servers[0].url).toBe(new URL(server.url).origin);

    const proxied = await startTestServer({ TRUST_PROXY: '1' });
    try {
      const res = await rawGet(proxied.url, '/openapi.json', { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'api.example.com' });
      expect(JSON.parse(res.text).servers[0].url).toBe('https://api.example.com');
      expect(res.headers.vary).toBe('Host, X-Forwarded-Host, X-Forwarded-Proto');
    } finally {
      await proxied.close();
    }
  });

  it('names PUBLIC_URL whatever the request says', async () => {
    const pub = await startTestServer({ PUBLIC_URL: 'https://opsdeck.example.com/' });
    try {
      const res = await rawGet(pub.url, '/openapi.json', { host: 'somewhere.else:1234' });
      expect(JSON.parse(res.text).servers[0].url).toBe('https://opsdeck.example.com');
      expect(res.headers.vary).toBeUndefined();
      expect((await http(pub.url, 'GET', '/docs')).text).toContain('https://opsdeck.example.com/api/v1/');
    } finally {
      await pub.close();
    }
  });
});

describe('the start-up line', () => {
  it('lists the API, the docs, both forms of the contract, the front door, the metrics and the mock', async () => {
    const child = await startChildServer({ PORT: '0', PGLITE_DIR: 'memory://', OPSDECK_DEMO_DATA: 'false', OPSDECK_ADMIN_EMAIL: 'admin@startup.example.com', OPSDECK_ADMIN_PASSWORD: 'startup-test-password-1', BACKGROUND_WORKERS: 'false' }, 60_000);
    try {
      const line = child
        .output()
        .split('\n')
        .flatMap((l) => {
          try {
            return [JSON.parse(l) as Record<string, string>];
          } catch {
            return [];
          }
        })
        .find((entry) => entry.msg?.startsWith('Opsdeck is listening on'))!;
      const base = child.url;
      expect(line).toMatchObject({
        index: `${base}/`,
        api: `${base}/api/v1`,
        docs: `${base}/docs`,
        spec: `${base}/openapi.json`,
        spec_yaml: `${base}/openapi.yaml`,
        metrics: `${base}/metrics`,
      });
      expect(line.mock).toContain('npm run mock');
      for (const key of ['index', 'docs', 'spec', 'spec_yaml', 'metrics']) expect((await fetch(line[key]!)).status, key).toBe(200);
    } finally {
      child.process.kill('SIGTERM');
      await child.exited;
    }
  }, 90_000);
});
