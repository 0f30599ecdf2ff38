import { readFileSync } from 'node:fs';

/** The server's release: the root package.json's version. */
export const version = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
