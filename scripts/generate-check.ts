// Fails when generated/ differs from what spec/ produces now (CI's drift check).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const committed = join(root, 'generated');
const fresh = mkdtempSync(join(tmpdir(), 'opsdeck-generated-'));
try {
  execFileSync(process.execPath, [join(root, 'scripts/generate.ts'), '--out', fresh], { stdio: ['ignore', 'ignore', 'inherit'] });
  const names = new Set([...readdirSync(committed), ...readdirSync(fresh)]);
  const drifted = [...names].filter((name) => {
    try {
      return !readFileSync(join(committed, name)).equals(readFileSync(join(fresh, name)));
    } catch {
      return true;
    }
  });
  if (drifted.length > 0) {
    console.error(`generated/ is out of date with spec/ (${drifted.join(', ')}). Run \`npm run generate\` and commit.`);
    process.exit(1);
  }
  console.log('generated/ matches spec/.');
} finally {
  rmSync(fresh, { recursive: true, force: true });
}
