// Mutual TLS for agents: a key pair and a PKCS#10 CSR to enrol (`enrollAgent` with `csr`) or renew
// (`renewAgentCertificate`) with, and a `fetch` that presents the issued certificate on the server's TLS listener
// (`TLS_PORT`), to pass as `createOpsdeckClient({ fetch })`. The CSR is made with @peculiar/x509 over WebCrypto.
// @peculiar/x509's dependency injection (tsyringe) needs the Reflect metadata API first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import type { Fetch } from './retry.ts';

export interface AgentKeyMaterial {
  /** The CSR, PEM: send it as `csr`. */
  csr: string;
  /** The private key, PKCS#8 PEM: keep it on the host; it never leaves it. */
  privateKeyPem: string;
}

const ALGORITHMS = {
  'ecdsa-p256': { key: { name: 'ECDSA', namedCurve: 'P-256' }, signing: { name: 'ECDSA', hash: 'SHA-256' } },
  'ecdsa-p384': { key: { name: 'ECDSA', namedCurve: 'P-384' }, signing: { name: 'ECDSA', hash: 'SHA-384' } },
  rsa: { key: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 3072 }, signing: { name: 'RSASSA-PKCS1-v1_5' } },
} as const;

/** A new key pair and a CSR for it (the server ignores the CSR's subject: the certificate names the agent). */
export async function createAgentKeyMaterial(options: { algorithm?: keyof typeof ALGORITHMS; subject?: string } = {}): Promise<AgentKeyMaterial> {
  const algorithm = ALGORITHMS[options.algorithm ?? 'ecdsa-p256'];
  type KeyPair = Parameters<typeof x509.Pkcs10CertificateRequestGenerator.create>[0]['keys'];
  const keys = (await globalThis.crypto.subtle.generateKey(algorithm.key, true, ['sign', 'verify'])) as KeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create(
    { name: options.subject ?? 'CN=opsdeck-agent', keys, signingAlgorithm: algorithm.signing },
    globalThis.crypto,
  );
  const pkcs8 = new Uint8Array(await globalThis.crypto.subtle.exportKey('pkcs8', keys.privateKey));
  return { csr: csr.toString('pem'), privateKeyPem: x509.PemConverter.encode(pkcs8.buffer, 'PRIVATE KEY') };
}

export interface MutualTlsOptions {
  /** The agent's certificate (PEM), from `enrollAgent` or `renewAgentCertificate`. */
  cert: string;
  /** Its private key (PEM). */
  key: string;
  /** The certificates that sign the server's TLS certificate (PEM); default: Node's trusted roots. */
  ca?: string | string[];
}

/**
 * A `fetch` over node:https that presents the agent's certificate in every TLS handshake (Node's own `fetch` cannot
 * take a client certificate without undici's `Agent`). Bodies are buffered: agent requests are small.
 */
export function mutualTlsFetch(options: MutualTlsOptions): Fetch {
  return async (input: Request) => {
    // node:https, loaded when first used, so the rest of the SDK stays usable in browsers.
    const { request } = (await import(NODE_HTTPS)) as NodeHttps;
    const body = input.body ? new Uint8Array(await input.arrayBuffer()) : undefined;
    const headers: Record<string, string> = {};
    input.headers.forEach((value, name) => (headers[name] = value));
    return new Promise<Response>((resolve, reject) => {
      const req = request(
        new URL(input.url),
        { method: input.method, headers, cert: options.cert, key: options.key, ...(options.ca ? { ca: options.ca } : {}), signal: input.signal },
        (res) => {
          const chunks: Uint8Array[] = [];
          res.on('data', (chunk: Uint8Array) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            const responseHeaders = new Headers();
            for (const [name, value] of Object.entries(res.headers)) {
              if (value === undefined) continue;
              for (const one of Array.isArray(value) ? value : [value]) responseHeaders.append(name, one);
            }
            const status = res.statusCode ?? 500;
            const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
            let at = 0;
            for (const chunk of chunks) {
              bytes.set(chunk, at);
              at += chunk.length;
            }
            resolve(new Response(status === 204 || status === 304 ? null : bytes, { status, statusText: res.statusMessage ?? '', headers: responseHeaders }));
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  };
}

const NODE_HTTPS: string = 'node:https';

/** What the SDK uses of node:https (the SDK is typed without Node's types). */
interface NodeHttps {
  request(
    url: URL,
    options: { method: string; headers: Record<string, string>; cert: string; key: string; ca?: string | string[]; signal?: AbortSignal },
    onResponse: (res: {
      statusCode?: number;
      statusMessage?: string;
      headers: Record<string, string | string[] | undefined>;
      on(event: 'data', listener: (chunk: Uint8Array) => void): void;
      on(event: 'error' | 'end', listener: (err?: unknown) => void): void;
    }) => void,
  ): { on(event: 'error', listener: (err: unknown) => void): void; end(body?: Uint8Array): void };
}
