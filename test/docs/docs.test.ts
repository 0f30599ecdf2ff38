// The API docs page (/docs: generated/docs.html, Redoc) opened in headless Chromium against a real server.
// Every request that does not go to the server's own origin is blocked, so the page must render from
// what the server sends alone. Screenshots land in test-results/ (git-ignored).
//
// Needs Chromium at /usr/bin/chromium (`apt-get install -y chromium`; OPSDECK_CHROMIUM_PATH overrides the
// path). A missing browser fails the test; OPSDECK_SKIP_BROWSER=1 skips it instead.
import { existsSync, mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { operationsById, spec } from '../../server/contract.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

const chromiumPath = process.env.OPSDECK_CHROMIUM_PATH ?? '/usr/bin/chromium';
const skipBrowser = process.env.OPSDECK_SKIP_BROWSER === '1';
const SKIP_NOTE = 'OPSDECK_SKIP_BROWSER=1 is set: the docs page is not opened in Chromium';
const resultsDir = fileURLToPath(new URL('../../test-results/', import.meta.url));

// The agents operations: summary and the method Redoc's sidebar shows next to it.
const AGENT_OPERATIONS = [
  ['List agents', 'get'],
  ['List agents with groups and health', 'get'],
  ['Get an agent', 'get'],
  ['Create an agent', 'post'],
  ['Replace an agent', 'put'],
  ['Update an agent', 'patch'],
  ['Delete an agent', 'delete'],
] as const;
// The deprecated operation, and what its docs must say: the sunset (as scripts/generate.ts writes it, from
// x-sunset) and the successor (x-successor).
const DEPRECATED = operationsById.get('listAgents')!;
const DEPRECATED_SUMMARY = DEPRECATED.operation.summary!;
const SUNSET_NOTE = `Sunset: ${new Date((DEPRECATED.operation as { 'x-sunset': string })['x-sunset']).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
const SUCCESSOR = operationsById.get((DEPRECATED.operation as { 'x-successor': string })['x-successor'])!;
// The payloads of the contract's `webhooks` section, each shown on its own.
const WEBHOOK_EVENTS = Object.keys(spec.webhooks ?? {});
// A sample of the error catalogue: code → the HTTP status its row must show.
const CATALOGUE_SAMPLE: Record<string, string> = { RES_NOT_FOUND: '404', VAL_MULTIPLE_ERRORS: '422', SYS_INTERNAL_ERROR: '500' };

let server: TestServer | undefined;
let context: BrowserContext | undefined;
let userDataDir: string | undefined;
/** Requests the page tried to make outside the server's origin (all blocked). */
const blocked = new Set<string>();
/** Uncaught exceptions in each opened page. */
const pageErrors = new WeakMap<Page, string[]>();

function skipIfAsked(ctx: TestContext): void {
  ctx.skip(skipBrowser, SKIP_NOTE);
}

beforeAll(async () => {
  if (skipBrowser) {
    process.stderr.write(`${JSON.stringify({ level: 'warn', msg: 'docs browser test skipped', reason: SKIP_NOTE })}\n`);
    return;
  }
  if (!existsSync(chromiumPath)) {
    throw new Error(
      `Chromium is not installed at ${chromiumPath}. Install it (apt-get update && apt-get install -y chromium), ` +
        'point OPSDECK_CHROMIUM_PATH at a Chromium binary, or set OPSDECK_SKIP_BROWSER=1 to skip the docs browser test.',
    );
  }
  server = await startTestServer();
  const origin = new URL(server.url).origin;
  userDataDir = await mkdtemp(join(tmpdir(), 'opsdeck-docs-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1400, height: 900 },
    serviceWorkers: 'block',
  });
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.origin === origin || url.protocol === 'data:' || url.protocol === 'blob:') return route.continue();
    blocked.add(url.href);
    return route.abort('blockedbyclient');
  });
}, 60_000);

afterAll(async () => {
  await context?.close();
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
  await server?.close();
}, 30_000);

/** Opens /docs (plus an optional hash route) and waits until Redoc has taken over the pre-rendered page. */
async function openDocs(hash = ''): Promise<Page> {
  if (!context || !server) throw new Error('the browser or the server did not start');
  const page = await context.newPage();
  const errors: string[] = [];
  pageErrors.set(page, errors);
  page.on('pageerror', (err) => errors.push(err.message));
  // The page runs under its own Content-Security-Policy (server/http/security-headers.ts). What it refuses from
  // elsewhere (Redoc's telemetry, its logo) is blocked like any outside request; anything else it refuses (an
  // inline script, a style, eval, a request to the server) is a failure.
  const origin = new URL(server.url).origin;
  page.on('console', (message) => {
    const text = message.text();
    if (message.type() !== 'error' || !/Content Security Policy/i.test(text)) return;
    const outside = [...text.matchAll(/https?:\/\/[^\s'"]+/g)].map((m) => m[0]).find((url) => new URL(url).origin !== origin);
    if (outside) blocked.add(outside);
    else errors.push(text);
  });
  const response = await page.goto(`${server.url}/docs${hash}`, { waitUntil: 'load' });
  expect(response?.status()).toBe(200);
  // docs.html is HTML pre-rendered by Redoc, which its React app then hydrates; React marks the root it
  // hydrated. Without this wait the checks could pass on the static HTML while the app is broken.
  await page
    .waitForFunction(
      () => {
        // Runs in the page; the project's TypeScript has no DOM lib, hence the minimal type.
        const { document } = globalThis as unknown as { document: { getElementById(id: string): object | null } };
        const root = document.getElementById('redoc');
        return root !== null && Object.keys(root).some((key) => key.startsWith('__reactContainer'));
      },
      undefined,
      { timeout: 20_000 },
    )
    .catch((err: unknown) => {
      throw new Error(`Redoc's app did not start on ${page.url()} (page errors: ${JSON.stringify(errors)}): ${(err as Error).message}`);
    });
  await page.getByRole('main').waitFor({ state: 'visible' });
  return page;
}

/** After the page is closed: it threw nothing; the report says which outside requests were blocked. */
async function checkClosedDocs(page: Page, ctx: TestContext): Promise<void> {
  expect(pageErrors.get(page) ?? [], 'uncaught errors in the docs page').toEqual([]);
  // Blocked third-party requests (e.g. Redoc's "API docs by" logo) are fine: the page rendered without them.
  if (blocked.size > 0) await ctx.annotate(`blocked outside requests: ${[...blocked].join(', ')}`);
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A heading of the docs' main column; Redoc names them "link to <title> <title>" (an anchor link comes first),
 * and a deprecated operation's heading ends in a "deprecated" badge.
 */
function sectionHeading(page: Page, title: string, level?: number) {
  const name = new RegExp(`(^|\\s)${escapeRegExp(title)}( deprecated)?$`);
  return page.getByRole('main').getByRole('heading', level === undefined ? { name } : { name, level });
}

const VISIBLE = { state: 'visible', timeout: 10_000 } as const;

describe('API docs page (/docs) in Chromium, with no network beyond the server', { timeout: 90_000 }, () => {
  it('shows the error catalogue with each code and its HTTP status', async (ctx) => {
    skipIfAsked(ctx);
    // The catalogue's own section, as error envelopes' help_url links it (the landing page shows the first tags only).
    const page = await openDocs('#tag/Errors');
    try {
      await sectionHeading(page, 'Errors', 2).waitFor(VISIBLE);
      const table = page.getByRole('main').locator('table', { hasText: 'RES_NOT_FOUND' });
      await table.waitFor(VISIBLE);
      expect(await table.locator('th').allInnerTexts()).toEqual(['Code', 'HTTP status', 'Meaning']);
      for (const [code, status] of Object.entries(CATALOGUE_SAMPLE)) {
        const row = table.locator('tr', { has: page.locator('code', { hasText: new RegExp(`^${code}$`) }) });
        expect(await row.count(), `catalogue rows for ${code}`).toBe(1);
        expect(await row.isVisible(), `catalogue row of ${code} is visible`).toBe(true);
        const cells = (await row.locator('td').allInnerTexts()).map((text) => text.trim());
        expect(cells.slice(0, 2), `catalogue row of ${code}`).toEqual([code, status]);
      }
      mkdirSync(resultsDir, { recursive: true });
      await page.screenshot({ path: join(resultsDir, 'docs.png'), fullPage: true });
    } finally {
      await page.close();
    }
    await checkClosedDocs(page, ctx);
  });

  it('lists the agents operations by summary and shows each one when picked in the sidebar', async (ctx) => {
    skipIfAsked(ctx);
    const page = await openDocs();
    try {
      // Redoc's router handles these clicks in the page (hash routes, no reload): the app really runs.
      await page.getByRole('link', { name: 'Agents', exact: true }).first().click();
      await page.waitForURL(/#\/agents$/);
      await sectionHeading(page, 'Agents', 2).waitFor(VISIBLE);
      const sidebarEntry = (summary: string, method: string) => page.getByRole('link', { name: `${summary} ${method}`, exact: true });
      for (const [summary, method] of AGENT_OPERATIONS) {
        await sidebarEntry(summary, method).waitFor(VISIBLE);
      }
      mkdirSync(resultsDir, { recursive: true });
      await page.screenshot({ path: join(resultsDir, 'docs-agents.png') });
      for (const [summary, method] of AGENT_OPERATIONS) {
        await sidebarEntry(summary, method).click();
        await sectionHeading(page, summary, 2).waitFor(VISIBLE);
        // Each operation shows the permission its security requirements name.
        const permission = method === 'get' ? 'agents:read' : 'agents:write';
        await page.getByRole('main').getByText(permission).first().waitFor(VISIBLE);
      }
    } finally {
      await page.close();
    }
    await checkClosedDocs(page, ctx);
  });

  it('marks the deprecated operation as deprecated, with its sunset date and successor; its successor is not', async (ctx) => {
    skipIfAsked(ctx);
    const page = await openDocs();
    try {
      await page.getByRole('link', { name: 'Agents', exact: true }).first().click();
      await page.getByRole('link', { name: `${DEPRECATED_SUMMARY} get`, exact: true }).click();
      const heading = sectionHeading(page, DEPRECATED_SUMMARY, 2);
      await heading.waitFor(VISIBLE);
      // Redoc's badge ends the heading; the note generated from x-sunset and x-successor leads the description.
      expect(await heading.innerText()).toMatch(/deprecated\s*$/i);
      const main = page.getByRole('main');
      for (const text of [SUNSET_NOTE, SUCCESSOR.operationId, `${SUCCESSOR.method.toUpperCase()} ${SUCCESSOR.path}`]) {
        await main.getByText(text).filter({ visible: true }).first().waitFor(VISIBLE);
      }
      expect(await main.locator('blockquote', { hasText: SUNSET_NOTE }).innerText()).toMatch(/^Deprecated since \d{4}-\d{2}-\d{2}/);
      mkdirSync(resultsDir, { recursive: true });
      await page.screenshot({ path: join(resultsDir, 'docs-deprecated.png') });

      await page.getByRole('link', { name: `${SUCCESSOR.operation.summary!} get`, exact: true }).click();
      const successorHeading = sectionHeading(page, SUCCESSOR.operation.summary!, 2);
      await successorHeading.waitFor(VISIBLE);
      expect(await successorHeading.innerText()).not.toMatch(/deprecated\s*$/i);
      await page.getByRole('main').getByText('health_score', { exact: true }).filter({ visible: true }).first().waitFor(VISIBLE);
    } finally {
      await page.close();
    }
    await checkClosedDocs(page, ctx);
  });

  it('shows each webhook payload of the contract, with its signature headers, and the live stream', async (ctx) => {
    skipIfAsked(ctx);
    const page = await openDocs('#tag/Webhooks');
    try {
      await sectionHeading(page, 'Webhooks', 2).waitFor(VISIBLE);
      const main = page.getByRole('main');
      for (const event of WEBHOOK_EVENTS) {
        await page.getByRole('link', { name: `${event} post`, exact: true }).click();
        await page.waitForURL(new RegExp(`#/webhooks/on${event.replace(/[._]/g, '')}$`, 'i'));
        // Redoc badges a webhook's heading "Webhook", as it badges a deprecated operation's.
        await page.getByRole('main').getByRole('heading', { name: `link to ${event} ${event} Webhook`, exact: true, level: 2 }).waitFor(VISIBLE);
      }
      for (const header of ['X-Opsdeck-Signature', 'X-Opsdeck-Timestamp']) {
        await main.getByText(header, { exact: true }).filter({ visible: true }).first().waitFor(VISIBLE);
      }
      mkdirSync(resultsDir, { recursive: true });
      await page.screenshot({ path: join(resultsDir, 'docs-webhooks.png') });
      await page.getByRole('link', { name: 'Events', exact: true }).first().click();
      await page.getByRole('link', { name: 'Stream live events get', exact: true }).click();
      await sectionHeading(page, 'Stream live events', 2).waitFor(VISIBLE);
      await main.getByText('text/event-stream').filter({ visible: true }).first().waitFor(VISIBLE);
    } finally {
      await page.close();
    }
    await checkClosedDocs(page, ctx);
  });

  it('takes the help_url of error envelopes (/docs#tag/Errors) to the error catalogue', async (ctx) => {
    skipIfAsked(ctx);
    const page = await openDocs('#tag/Errors');
    try {
      const heading = sectionHeading(page, 'Errors', 2);
      await heading.waitFor(VISIBLE);
      await expect
        .poll(async () => {
          const box = await heading.boundingBox();
          return box !== null && box.y >= 0 && box.y < (page.viewportSize()?.height ?? 0);
        }, { message: 'the Errors heading is scrolled into view', timeout: 10_000 })
        .toBe(true);
    } finally {
      await page.close();
    }
    await checkClosedDocs(page, ctx);
  });

  it("lists this server's own origin among the servers, under the page's Content-Security-Policy", async (ctx) => {
    skipIfAsked(ctx);
    const page = await openDocs();
    try {
      const origin = new URL(server!.url).origin;
      const response = await page.request.get(`${origin}/docs`);
      expect(response.headers()['content-security-policy']).toContain("script-src 'sha256-");
      await expect.poll(() => page.content(), { message: 'the server list names this origin', timeout: 10_000 }).toContain(origin);
      expect(await page.content()).not.toContain('http://localhost:8080');
    } finally {
      await page.close();
    }
    await checkClosedDocs(page, ctx);
  });
});
