// The contract and the docs as this server serves them (`/openapi.json`, `/openapi.yaml`, `/docs`, and the live
// WebSocket's AsyncAPI document, `/asyncapi.json` and `/asyncapi.yaml`): the
// generated files, with the development origin the spec names (its first server, http://localhost:8080, also
// in every code sample) replaced by this server's real origin, so the docs' server list and samples point
// here: PUBLIC_URL when set, else the origin of the request (its Host, or X-Forwarded-Host/-Proto when
// TRUST_PROXY says to believe them). An origin that is not a plain scheme://host[:port] is never written into a
// document: the files are served as generated. Each origin's copies are made once (about 0.1 s for the three)
// and kept, with a strong ETag, for the first few origins a process sees; any further origin (a client making up
// Host headers) gets the files as generated, so it can neither make the server rebuild copies nor push out the
// real ones. PUBLIC_URL avoids all of it. The docs page carries a Content-Security-Policy of its own, with the
// hashes of its inline scripts.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Request, RequestHandler, Response } from 'express';
import { asyncApiPath, asyncApiYamlPath, bundledSpecPath, bundledSpecYamlPath, docsPath, spec } from '../contract.ts';
import { docsContentSecurityPolicy } from './security-headers.ts';

type Kind = 'json' | 'yaml' | 'docs' | 'asyncapiJson' | 'asyncapiYaml';

interface Served {
  readonly body: Buffer;
  readonly etag: string;
  readonly csp?: string;
}

const CONTENT_TYPES: Record<Kind, string> = {
  json: 'application/json; charset=utf-8',
  yaml: 'application/yaml; charset=utf-8',
  docs: 'text/html; charset=utf-8',
  asyncapiJson: 'application/json; charset=utf-8',
  asyncapiYaml: 'application/yaml; charset=utf-8',
};
const PATHS: Record<Kind, string> = { json: bundledSpecPath, yaml: bundledSpecYamlPath, docs: docsPath, asyncapiJson: asyncApiPath, asyncapiYaml: asyncApiYamlPath };
/** How many origins get copies of their own (a server is reached under one or two names; more are made-up Hosts). */
const MAX_ORIGINS = 4;
const PLAIN_ORIGIN = /^https?:\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)(:\d{1,5})?$/;

/** The spec's development server (the first of `servers`), which a served copy names as this server instead. */
const DEVELOPMENT = spec.servers?.[0];

export interface ServedContractOptions {
  /** PUBLIC_URL: the origin every copy names, whatever the request's Host. */
  publicUrl: string | undefined;
  /** Whether Express believes X-Forwarded-Host/-Proto (TRUST_PROXY), so the answer varies with them. */
  trustProxy: boolean;
}

export class ServedContract {
  readonly #publicOrigin: string | undefined;
  readonly #vary: string;
  readonly #copies = new Map<string, Served>();
  readonly #origins = new Set<string>();

  constructor(options: ServedContractOptions) {
    this.#publicOrigin = options.publicUrl === undefined ? undefined : new URL(options.publicUrl).origin;
    this.#vary = this.#publicOrigin ? '' : options.trustProxy ? 'Host, X-Forwarded-Host, X-Forwarded-Proto' : 'Host';
  }

  readonly json: RequestHandler = (req, res) => this.#answer('json', req, res);
  readonly yaml: RequestHandler = (req, res) => this.#answer('yaml', req, res);
  readonly docs: RequestHandler = (req, res) => this.#answer('docs', req, res);
  readonly asyncApiJson: RequestHandler = (req, res) => this.#answer('asyncapiJson', req, res);
  readonly asyncApiYaml: RequestHandler = (req, res) => this.#answer('asyncapiYaml', req, res);

  /** The origin a request's copies name, or undefined to serve the files as generated. */
  originOf(req: Request): string | undefined {
    const origin = this.#publicOrigin ?? `${req.protocol}://${req.host}`;
    return PLAIN_ORIGIN.test(origin) ? origin : undefined;
  }

  #answer(kind: Kind, req: Request, res: Response): void {
    const served = this.#served(kind, this.#admitted(this.originOf(req)));
    res.setHeader('Content-Type', CONTENT_TYPES[kind]);
    res.setHeader('ETag', served.etag);
    res.setHeader('Cache-Control', 'no-cache');
    if (this.#vary) res.setHeader('Vary', this.#vary);
    if (served.csp) res.setHeader('Content-Security-Policy', served.csp);
    const ifNoneMatch = req.headers['if-none-match'];
    if (ifNoneMatch !== undefined && ifNoneMatch.split(',').some((tag) => tag.trim() === served.etag || tag.trim() === '*')) {
      res.status(304).end();
      return;
    }
    res.status(200).end(req.method === 'HEAD' ? undefined : served.body);
  }

  /** The origin when it has, or may still get, copies of its own; else undefined (the files as generated). */
  #admitted(origin: string | undefined): string | undefined {
    if (origin === undefined || this.#origins.has(origin)) return origin;
    if (this.#origins.size >= MAX_ORIGINS) return undefined;
    this.#origins.add(origin);
    return origin;
  }

  #served(kind: Kind, origin: string | undefined): Served {
    const key = `${kind} ${origin ?? ''}`;
    const kept = this.#copies.get(key);
    if (kept) return kept;
    // Read again for each new copy rather than kept: a copy is made once per origin, and the files are large.
    const generated = readFileSync(PATHS[kind], 'utf8');
    const text = kind === 'asyncapiJson' || kind === 'asyncapiYaml' ? rewriteAsyncApi(generated, origin) : rewrite(generated, origin);
    const body = Buffer.from(text, 'utf8');
    const served: Served = {
      body,
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
      ...(kind === 'docs' ? { csp: docsContentSecurityPolicy(text) } : {}),
    };
    this.#copies.set(key, served);
    return served;
  }
}

/** The document naming `origin` where the spec names its development server (its URL and its description). */
export function rewrite(text: string, origin: string | undefined): string {
  if (!origin || !DEVELOPMENT || origin === DEVELOPMENT.url) return text;
  let out = text.replaceAll(DEVELOPMENT.url, origin);
  if (DEVELOPMENT.description) out = out.replaceAll(DEVELOPMENT.description, 'This Opsdeck server.');
  return out;
}

/** The AsyncAPI document naming `origin`'s host as its WebSocket server (`wss` for an `https` origin). */
export function rewriteAsyncApi(text: string, origin: string | undefined): string {
  if (!origin || !DEVELOPMENT || origin === DEVELOPMENT.url) return text;
  const from = new URL(DEVELOPMENT.url);
  const to = new URL(origin);
  const out = rewrite(text, origin).replaceAll(`"host": "${from.host}"`, `"host": "${to.host}"`).replaceAll(`host: ${from.host}\n`, `host: ${to.host}\n`);
  return to.protocol === 'https:' ? out.replace('"protocol": "ws"', '"protocol": "wss"').replace('protocol: ws\n', 'protocol: wss\n') : out;
}
