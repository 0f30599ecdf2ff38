// `npm start`: turns on Node's compile cache, then runs the server (run.ts). With the cache, a start reuses the
// code V8 compiled (and the TypeScript Node stripped) the last time, which takes about a third off the time to
// load Opsdeck's modules; the cache lives in the system's temporary directory and is rebuilt when a file changes.
// A module of its own because the cache only helps modules loaded after it is on.
import { enableCompileCache } from 'node:module';

enableCompileCache();
await import('./run.ts');
