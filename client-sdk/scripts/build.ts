// Builds dist/ (ESM and .d.ts) from src/ so that the published package stands on its own.
//
// Why more than `tsc`: the sources import the contract's types from the monorepo's generated/ folder,
// which is not in the package, and use `.ts` import specifiers, which tsc rewrites to `.js` in the
// emitted JavaScript but keeps as written in declarations. So after tsc this script copies
// generated/openapi.d.ts into dist/, points every import of it there, turns the remaining `.ts`
// specifiers of the declarations into `.js`, and finally fails if any relative import in dist/
// still leads to a file outside dist/ or to nothing.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';

const pkg = resolve(import.meta.dirname, '..');
const src = join(pkg, 'src');
const dist = join(pkg, 'dist');
const contract = resolve(pkg, '../generated/openapi.d.ts');
const contractInDist = join(dist, 'openapi.d.ts');

// `from '…'`, `import '…'`, `import('…')` with a relative specifier.
const RELATIVE_IMPORT = /(\bfrom\s*|\bimport\s*\(?\s*)(['"])(\.\.?\/[^'"]*)\2/g;

const isDeclaration = (file: string): boolean => file.endsWith('.d.ts');

function emittedFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && (e.name.endsWith('.js') || isDeclaration(e.name)))
    .map((e) => join(e.parentPath, e.name));
}

function toSpecifier(fromDir: string, target: string): string {
  const path = relative(fromDir, target).split(sep).join('/');
  return path.startsWith('.') ? path : `./${path}`;
}

function rewrite(file: string): void {
  const fileDir = dirname(file);
  // dist/ mirrors src/ (rootDir), so a specifier still means what it meant beside the source file.
  const sourceDir = join(src, relative(dist, fileDir));
  const text = readFileSync(file, 'utf8').replace(RELATIVE_IMPORT, (match, lead: string, quote: string, spec: string) => {
    let next = spec;
    if (resolve(sourceDir, spec) === contract) next = toSpecifier(fileDir, contractInDist).replace(/\.d\.ts$/, '.js');
    else if (spec.endsWith('.ts') && !isDeclaration(spec)) next = spec.replace(/\.ts$/, '.js');
    return next === spec ? match : `${lead}${quote}${next}${quote}`;
  });
  writeFileSync(file, text);
}

function check(file: string): string[] {
  const problems: string[] = [];
  for (const [, , , spec] of readFileSync(file, 'utf8').matchAll(RELATIVE_IMPORT)) {
    const target = resolve(dirname(file), spec!);
    // A declaration's `./x.js` is read from `./x.d.ts`.
    const onDisk = isDeclaration(file) ? target.replace(/\.js$/, '.d.ts') : target;
    if (!onDisk.startsWith(dist + sep) || !existsSync(onDisk)) problems.push(`${relative(pkg, file)}: ${spec}`);
  }
  return problems;
}

rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(pkg, 'tsconfig.json')], { stdio: 'inherit' });
copyFileSync(contract, contractInDist);

const files = emittedFiles(dist);
for (const file of files) rewrite(file);
const problems = files.flatMap(check);
if (problems.length > 0) {
  throw new Error(`dist/ imports what the package does not hold:\n  ${problems.join('\n  ')}`);
}
process.stderr.write(`${JSON.stringify({ level: 'info', msg: 'client-sdk: built', dist, files: files.length })}\n`);
