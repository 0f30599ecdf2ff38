// `npm run mock`: Prism in static mode on generated/openapi.json, on 127.0.0.1:$MOCK_PORT (default 4010).
// stdout gets one JSON line once Prism answers; Prism's own request log goes to stderr.
// SIGTERM/SIGINT are forwarded to Prism; this process exits when Prism has stopped.
import { defaultSpecPath, startPrism } from './prism.ts';

const HOST = '127.0.0.1';

function line(fields: Record<string, unknown>): string {
  return `${JSON.stringify({ time: new Date().toISOString(), service: 'opsdeck-mock', ...fields })}\n`;
}

function parsePort(raw: string | undefined): number {
  if (raw === undefined || raw.trim() === '') return 4010;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`MOCK_PORT must be an integer from 0 to 65535, not ${JSON.stringify(raw)}`);
  return port;
}

try {
  const prism = await startPrism({ port: parsePort(process.env.MOCK_PORT), host: HOST, log: process.stderr });
  let stopping = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(line({ level: 'info', msg: 'signal received, stopping Prism', signal }));
      prism.stop(signal).then(
        () => process.exit(0),
        (err: unknown) => {
          process.stderr.write(line({ level: 'error', msg: 'stopping Prism failed', err: String(err) }));
          process.exit(1);
        },
      );
    });
  }
  process.stdout.write(
    line({
      level: 'info',
      msg: `Opsdeck mock (Prism, static examples) is listening on ${prism.url}`,
      url: prism.url,
      api: `${prism.url}/api/v1`,
      port: prism.port,
      spec: defaultSpecPath,
      mode: 'static',
      pid: prism.pid,
    }),
  );
  const { code, signal } = await prism.exited;
  if (!stopping) {
    process.stderr.write(line({ level: 'error', msg: 'Prism exited on its own', code, signal }));
    process.exit(code || 1);
  }
} catch (err) {
  process.stderr.write(line({ level: 'fatal', msg: 'the mock could not start', err: err instanceof Error ? err.message : String(err) }));
  process.exit(1);
}
