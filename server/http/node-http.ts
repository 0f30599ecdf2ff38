// Node's `http` module, for the modules that use its values (not only its types). Not `import … from 'node:http'`:
// Node's ESM view of a built-in reads every one of its exports, and node:http's WebSocket, CloseEvent and
// MessageEvent are lazy getters that load undici (Node's fetch): some 10 MB of memory at start, for nothing this
// server uses. `process.getBuiltinModule` answers the module itself, without that view.
export const http = process.getBuiltinModule('node:http');
