// What `npm start` runs, read from package.json's `start` script, so the bench starts Opsdeck with the same
// Node flags as a user does (the compile cache is turned on by server/main.ts itself).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const packageJson = fileURLToPath(new URL('../../package.json', import.meta.url));

/** The arguments after `node` in the start script: its flags, then the entry (`server/main.ts`). The script's leading
 * `exec` (sh replaces itself with node, so a signal sent to npm reaches the server) is not one of them. */
export function startArguments(): string[] {
  const start = (JSON.parse(readFileSync(packageJson, 'utf8')) as { scripts: { start: string } }).scripts.start;
  const [command, ...args] = start.replace(/^exec\s+/, '').split(/\s+/);
  if (command !== 'node') throw new Error(`package.json's start script must run node, not ${command}`);
  return args;
}

/** The Node flags of the start script (what comes before the entry file). */
export const startFlags = (): string[] => startArguments().filter((arg) => arg.startsWith('--'));
