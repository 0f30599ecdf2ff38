// The docs' request samples (Redoc's x-codeSamples, written into generated/ by `npm run generate` from
// scripts/code-samples.ts): every operation shows a curl command and an SDK call, and every SDK call compiles
// against the SDK's sources, type-checked here with the repository's TypeScript and settings, one module per
// sample, so the docs cannot show code that does not compile.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { codeSamplesOf, operationsOf, type CodeSample } from '../../scripts/code-samples.ts';

const root = resolve(import.meta.dirname, '../..');
// As test/docs/docs.test.ts: Chromium at /usr/bin/chromium (OPSDECK_CHROMIUM_PATH), OPSDECK_SKIP_BROWSER=1 skips.
const chromiumPath = process.env.OPSDECK_CHROMIUM_PATH ?? '/usr/bin/chromium';
const skipBrowser = process.env.OPSDECK_SKIP_BROWSER === '1';
const spec = JSON.parse(readFileSync(join(root, 'generated/openapi.json'), 'utf8')) as Record<string, unknown>;
const operations = operationsOf(spec).map(([path, method, operation]) => ({
  path,
  method,
  operationId: String(operation.operationId),
  samples: (operation['x-codeSamples'] ?? []) as CodeSample[],
}));

/** The samples of one language, by operationId. */
const samplesIn = (lang: CodeSample['lang']) => operations.map((o) => ({ ...o, sample: o.samples.find((s) => s.lang === lang) }));

/** Type-checks each source as its own module (virtual files beside this test, so '@opsdeck/sdk' resolves as in the repo). */
function typeCheck(sources: Map<string, string>): Map<string, string[]> {
  const config = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.json'), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    },
  });
  if (!config) throw new Error('tsconfig.json could not be read');
  const options: ts.CompilerOptions = { ...config.options, noEmit: true, noUnusedLocals: false };
  const host = ts.createCompilerHost(options);
  const { fileExists, readFile, getSourceFile } = host;
  host.fileExists = (file) => sources.has(file) || fileExists.call(host, file);
  host.readFile = (file) => sources.get(file) ?? readFile.call(host, file);
  host.getSourceFile = (file, language, onError, create) =>
    sources.has(file) ? ts.createSourceFile(file, sources.get(file)!, language, true) : getSourceFile.call(host, file, language, onError, create);
  const program = ts.createProgram({ rootNames: [...sources.keys()], options, host });
  const problems = new Map<string, string[]>([...sources.keys()].map((file) => [file, []]));
  for (const file of sources.keys()) {
    const sourceFile = program.getSourceFile(file)!;
    for (const d of [...program.getSyntacticDiagnostics(sourceFile), ...program.getSemanticDiagnostics(sourceFile)]) {
      const line = d.start === undefined ? 0 : sourceFile.getLineAndCharacterOfPosition(d.start).line + 1;
      problems.get(file)!.push(`line ${line}: TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    }
  }
  return problems;
}

describe('the request samples of the docs', () => {
  it('are on every operation: one curl command and one SDK call', () => {
    expect(operations.length).toBeGreaterThan(50);
    const missing = operations.filter((o) => {
      const langs = o.samples.map((s) => `${s.lang}/${s.label}`).sort();
      return langs.join() !== ['Shell/curl', 'TypeScript/SDK (TypeScript)'].join();
    });
    expect(missing.map((o) => o.operationId)).toEqual([]);
  });

  it('are what scripts/code-samples.ts writes from the contract (generated/ is not stale)', () => {
    for (const { path, method, operationId, samples } of operations) expect(samples, operationId).toEqual(codeSamplesOf(spec, path, method));
  });

  it('send each operation its method and path, with the examples of its parameters', () => {
    for (const { path, method, operationId, sample } of samplesIn('Shell')) {
      const source = sample!.source;
      expect(source, operationId).toMatch(/^curl /);
      expect(source.includes(`-X ${method.toUpperCase()}`), `${operationId}: -X`).toBe(method !== 'get');
      // The path with every {parameter} replaced by a value.
      const url = /'(https?:\/\/[^']+)'/.exec(source)?.[1];
      const pattern = new RegExp(`^https?://[^/]+${path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/?{}]+')}(\\?.*)?$`);
      expect(url, operationId).toMatch(pattern);
    }
    for (const { path, method, operationId, sample } of samplesIn('TypeScript')) {
      const source = sample!.source;
      expect(source, operationId).toContain("from '@opsdeck/sdk'");
      if (!source.includes('subscribeEvents(') && !source.includes('connectLive(') && !source.includes('.login(')) expect(source, operationId).toContain(`opsdeck.${method.toUpperCase()}('${path}'`);
    }
  });

  it('in TypeScript compile against the SDK', () => {
    const dir = join(root, 'test/docs/.code-samples');
    const sources = new Map(samplesIn('TypeScript').map(({ operationId, sample }) => [join(dir, `${operationId}.ts`), sample!.source]));
    const problems = [...typeCheck(sources)].filter(([, list]) => list.length > 0).map(([file, list]) => `${file.slice(dir.length + 1)}\n  ${list.join('\n  ')}`);
    expect(problems).toEqual([]);
  }, 120_000);

  it('do not compile when wrong (the check can fail)', () => {
    const dir = join(root, 'test/docs/.code-samples');
    const wrong = new Map([
      [join(dir, 'wrong-path.ts'), `import { createOpsdeckClient } from '@opsdeck/sdk';\nawait createOpsdeckClient({ baseUrl: 'http://localhost:8080' }).GET('/api/v1/nothing');\n`],
      [join(dir, 'wrong-body.ts'), `import { createOpsdeckClient } from '@opsdeck/sdk';\nawait createOpsdeckClient({ baseUrl: 'http://localhost:8080' }).POST('/api/v1/agents', { body: { hostname: 1 } });\n`],
    ]);
    for (const [file, list] of typeCheck(wrong)) {
      expect(list.length, file).toBeGreaterThan(0);
      // Refused for what is wrong in it, not because the SDK could not be found.
      expect(list.join('\n'), file).not.toContain('TS2307');
    }
  }, 120_000);

  it('are offered by the docs page, curl and the SDK (generated/docs.html in Chromium)', async (ctx) => {
    ctx.skip(skipBrowser, 'OPSDECK_SKIP_BROWSER=1 is set: the docs page is not opened in Chromium');
    if (!existsSync(chromiumPath)) throw new Error(`no Chromium at ${chromiumPath} (apt-get install -y chromium), or set OPSDECK_SKIP_BROWSER=1`);
    const { operationId, sample } = samplesIn('TypeScript').find((o) => o.operationId === 'updateAgent')!;
    const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
      // The page stands on its own: it may load nothing from elsewhere.
      await page.route(/^(?!file:|data:|blob:)/, (route) => route.abort());
      // Redoc's samples panel: a language menu (the labels redocly.yaml lists) over the chosen sample.
      await page.goto(`${pathToFileURL(join(root, 'generated/docs.html')).href}#agents/${operationId.toLowerCase()}`);
      const menu = page.getByRole('button', { name: /^curl$/ }).first();
      await menu.waitFor({ timeout: 30_000 });
      await expect.poll(() => page.getByText('$OPSDECK_TOKEN').first().isVisible()).toBe(true);
      await menu.click();
      expect(await page.getByRole('menuitem').allInnerTexts()).toEqual(['curl', 'SDK (TypeScript)', 'Payload']);
      await page.getByRole('menuitem', { name: 'SDK (TypeScript)' }).click();
      expect(sample!.source).toContain("opsdeck.PATCH('/api/v1/agents/{agent_id}'");
      await expect.poll(() => page.getByText("opsdeck.PATCH('/api/v1/agents/{agent_id}'").first().isVisible()).toBe(true);
    } finally {
      await browser.close();
    }
  }, 90_000);
});
