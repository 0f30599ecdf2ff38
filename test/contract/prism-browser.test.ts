// The mock as a frontend team meets it first: a page of its own dev server (another origin) calling the Prism
// mock through the SDK, in headless Chromium. The browser enforces CORS for real: preflights for
// `Authorization`, JSON bodies and `Prefer`, the answer's `Access-Control-Allow-Origin` checked against the
// page's origin, and only exposed headers readable. The page loads the SDK's own sources (transpiled as they are
// served, no bundler) with openapi-fetch through an import map.
//
// Also, without a browser: the mock's list examples make a finite walk for the SDK iterator on every list.
//
// Needs Chromium at /usr/bin/chromium (OPSDECK_CHROMIUM_PATH overrides it); OPSDECK_SKIP_BROWSER=1 skips the
// browser part, as in test/docs/docs.test.ts.
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, join, resolve } from 'node:path';
import type { OpenAPIV3_1 } from 'openapi-types';
import { chromium, type Browser } from 'playwright-core';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOpsdeckClient, paginate, PaginationLoopError, type ListPath } from '@opsdeck/sdk';
import { startPrism, type RunningPrism } from '../../mocks/prism.ts';
import { operationsById, resolveRef, type OperationInfo } from '../../server/contract.ts';

const root = resolve(import.meta.dirname, '../..');
const sdkSources = join(root, 'client-sdk', 'src');
const chromiumPath = process.env.OPSDECK_CHROMIUM_PATH ?? '/usr/bin/chromium';
const skipBrowser = process.env.OPSDECK_SKIP_BROWSER === '1';

let prism: RunningPrism | undefined;
let site: Server | undefined;
let browser: Browser | undefined;

/** An SDK source file as the browser gets it: the TypeScript erased, nothing else changed (`./x.ts` imports stay). */
function sdkModule(name: string): string {
  const source = readFileSync(join(sdkSources, basename(name)), 'utf8');
  return ts.transpileModule(source, {
    fileName: name,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true, sourceMap: false },
  }).outputText;
}

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>Opsdeck frontend on the mock</title>
<script type="importmap">{ "imports": { "openapi-fetch": "/vendor/openapi-fetch.mjs", "@opsdeck/sdk": "/sdk/index.ts" } }</script>
<script type="module">import * as sdk from '@opsdeck/sdk'; globalThis.opsdeckSdk = sdk;</script>
</head><body><h1>Fleet</h1></body></html>`;

/** The frontend's dev server: the page, the SDK's modules and openapi-fetch; nothing else. */
async function startSite(): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://site.invalid').pathname;
    const js = (body: string) => res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(body);
    if (path === '/') return void res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
    if (path === '/favicon.ico') return void res.writeHead(204).end();
    if (path === '/vendor/openapi-fetch.mjs') return void js(readFileSync(join(root, 'node_modules/openapi-fetch/dist/index.mjs'), 'utf8'));
    if (/^\/sdk\/[a-z-]+\.ts$/.test(path) && existsSync(join(sdkSources, basename(path)))) return void js(sdkModule(path));
    res.writeHead(404).end();
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  // `localhost`, where the mock is 127.0.0.1: another host and another port, so another origin twice over.
  return { server, origin: `http://localhost:${(server.address() as AddressInfo).port}` };
}

beforeAll(async () => {
  prism = await startPrism({ readyTimeoutMs: 90_000 });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((done) => (site ? site.close(done) : done(undefined)));
  await prism?.stop();
}, 30_000);

/** What the page reports after using the mock through the SDK. */
interface PageReport {
  origin: string;
  agentId: string;
  hostnames: string[];
  location: string | null;
  statusUrl: string;
  requestId: string | null;
  missing: { status: number; code: string | undefined };
}

describe('the mock in a browser on another origin, through the SDK', { timeout: 120_000 }, () => {
  it('signs in, creates an agent, walks the agents, reboots one and reads a 404, all across origins', async (ctx) => {
    ctx.skip(skipBrowser, 'OPSDECK_SKIP_BROWSER=1 is set: the mock is not called from Chromium');
    if (!existsSync(chromiumPath)) {
      throw new Error(`Chromium is not installed at ${chromiumPath}: install it (apt-get install -y chromium), set OPSDECK_CHROMIUM_PATH, or OPSDECK_SKIP_BROWSER=1`);
    }
    const started = await startSite();
    site = started.server;
    browser = await chromium.launch({
      executablePath: chromiumPath,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    // Chromium logs every answer of 400 or more as "Failed to load resource"; those are checked below, by URL.
    page.on('console', (message) => {
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource: the server responded with a status of')) problems.push(`console: ${message.text()}`);
    });
    const refused: string[] = [];
    page.on('response', (response) => {
      if (response.status() >= 400) refused.push(`${response.status()} ${response.request().method()} ${new URL(response.url()).pathname}`);
    });
    page.on('requestfailed', (request) => problems.push(`failed: ${request.method()} ${request.url()} (${request.failure()?.errorText})`));
    expect((await page.goto(`${started.origin}/`))?.status()).toBe(200);
    await page.waitForFunction(() => 'opsdeckSdk' in globalThis, undefined, { timeout: 20_000 });

    const report = await page.evaluate(async (mockUrl: string): Promise<PageReport> => {
      // Runs in the page: the README's "SDK in five lines", a reboot and a 404, against the mock.
      const { createOpsdeckClient, paginate, unwrap } = (globalThis as unknown as { opsdeckSdk: typeof import('@opsdeck/sdk') }).opsdeckSdk;
      const opsdeck = createOpsdeckClient({ baseUrl: mockUrl });
      await opsdeck.login('operator@opsdeck.local', 'opsdeck-demo-password');
      const agent = await unwrap(opsdeck.POST('/api/v1/agents', { body: { hostname: `web-${Date.now()}`, ip_address: '10.0.0.5', platform: 'linux' } }));
      const hostnames: string[] = [];
      for await (const a of paginate(opsdeck, '/api/v2/agents', { params: { query: { cursor: '' } } })) hostnames.push(a.hostname);
      const reboot = await opsdeck.POST('/api/v1/agents/{agent_id}/actions/reboot', { params: { path: { agent_id: agent.id } }, body: { reason: 'from the browser' } });
      const missing = await opsdeck.GET('/api/v1/agents/{agent_id}', { params: { path: { agent_id: agent.id } }, headers: { Prefer: 'code=404' } });
      const { location } = globalThis as unknown as { location: { origin: string } };
      return {
        origin: location.origin,
        agentId: agent.id,
        hostnames,
        location: reboot.response.headers.get('location'),
        statusUrl: reboot.data!.data.status_url,
        requestId: reboot.response.headers.get('x-request-id'),
        missing: { status: missing.response.status, code: missing.error?.error.code },
      };
    }, prism!.url);

    expect(problems).toEqual([]);
    // The one refusal is the 404 the page asked for (a blocked answer would not even reach this list).
    expect(refused).toEqual([`404 GET /api/v1/agents/${report.agentId}`]);
    expect(report.origin).toBe(started.origin);
    expect(new URL(prism!.url).origin).not.toBe(report.origin);
    expect(report.agentId).toMatch(/^[0-9a-f-]{36}$/);
    // The example page of /api/v2/agents, once: its last page ends the walk.
    expect(report.hostnames).toEqual(['web-01.prod.example.com', 'db-02.prod.example.com']);
    // Exposed headers are readable from the other origin; Location is the task, as on the server.
    expect(report.location).toBe(report.statusUrl);
    expect(report.location).toMatch(/^\/api\/v1\/tasks\//);
    expect(report.requestId).toBeTruthy();
    expect(report.missing).toEqual({ status: 404, code: 'RES_NOT_FOUND' });
  });
});

/** Whether a schema (through $refs and allOf/oneOf/anyOf) has a `pagination` property: a page of a list. */
function isPage(schema: unknown): boolean {
  const node = resolveRef<Record<string, unknown> | undefined>(schema as never);
  if (!node || typeof node !== 'object') return false;
  if ((node.properties as Record<string, unknown> | undefined)?.pagination) return true;
  return ['allOf', 'oneOf', 'anyOf'].some((key) => ((node[key] as unknown[] | undefined) ?? []).some(isPage));
}

/** The lists of the contract: GETs whose 200 body is a page. */
const LISTS: OperationInfo[] = [...operationsById.values()].filter((info) => {
  const ok = info.method === 'get' ? info.operation.responses?.['200'] : undefined;
  return ok !== undefined && isPage(resolveRef<OpenAPIV3_1.ResponseObject>(ok as never).content?.['application/json']?.schema);
});

const parametersOf = (info: OperationInfo) => (info.operation.parameters ?? []).map((p) => resolveRef<OpenAPIV3_1.ParameterObject>(p as never));

/** A list's required query parameters, from their examples. */
function requiredQuery(info: OperationInfo): Record<string, unknown> {
  return Object.fromEntries(parametersOf(info).filter((p) => p.in === 'query' && p.required).map((p) => [p.name, p.example]));
}

describe('the mock’s list examples', { timeout: 60_000 }, () => {
  it('finds the lists of the contract', () => {
    expect(LISTS.map((info) => info.path)).toEqual(expect.arrayContaining(['/api/v1/agents', '/api/v2/agents', '/api/v1/teams', '/api/v1/webhooks/{webhook_id}/deliveries']));
  });

  it('make a finite walk for the SDK iterator on every list, by offset and by cursor', async () => {
    const client = createOpsdeckClient({ baseUrl: prism!.url, token: 'mock', apiKey: undefined, retries: false });
    const id = '0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d';
    for (const info of LISTS) {
      const path = info.path as ListPath;
      const params = Object.fromEntries([...path.matchAll(/\{([^}]+)\}/g)].map((m) => [m[1]!, id]));
      const modes = parametersOf(info).some((p) => p.in === 'query' && p.name === 'cursor') ? [{}, { cursor: '' }] : [{}];
      for (const mode of modes) {
        const query = { ...requiredQuery(info), ...mode };
        let items = 0;
        try {
          for await (const _ of paginate(client, path, { params: { path: params, query } } as never)) items += 1;
        } catch (err) {
          if (err instanceof PaginationLoopError) throw new Error(`${path} ${JSON.stringify(query)}: the mock's example page is not a last page (${err.message})`);
          throw err;
        }
        expect(items, `${path} ${JSON.stringify(query)}`).toBeGreaterThan(0);
      }
    }
  });
});
