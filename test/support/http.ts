// Plain HTTP for tests that must control the raw request (bad JSON, content types, sizes).
export interface RawResponse {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

export async function http(
  base: string,
  method: string,
  path: string,
  options: { json?: unknown; body?: string; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | undefined = options.body;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    headers['content-type'] ??= 'application/json';
  }
  const response = await fetch(`${base}${path}`, { method, headers, body });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: response.status, headers: response.headers, body: parsed, text };
}

let counter = 0;
/** A new agent body with a unique hostname. */
export function newAgent(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  counter += 1;
  return {
    hostname: `host-${process.pid}-${counter}-${Math.random().toString(36).slice(2, 8)}.test.example.com`,
    ip_address: `10.${counter % 250}.${Math.floor(counter / 250) % 250}.${(counter % 200) + 1}`,
    platform: 'linux',
    ...overrides,
  };
}
