// The security headers of every answer (helmet), as the contract's shared headers describe them
// (spec/components/headers: XContentTypeOptions, ReferrerPolicy, ContentSecurityPolicy, StrictTransportSecurity):
//   - X-Content-Type-Options: nosniff, Referrer-Policy: no-referrer, and helmet's other defaults (frame, opener
//     and resource policies);
//   - a Content-Security-Policy that lets nothing load or run for an API answer; the docs page replaces it with
//     its own (`docsContentSecurityPolicy`: its inline scripts by hash, its inline styles);
//   - Strict-Transport-Security only when the public address is https (PUBLIC_URL), never on plain HTTP.
// `Cache-Control: no-store` on answers that carry secrets is the pipeline's, from the contract (operation-table.ts).
import { createHash } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import helmet from 'helmet';

/** The policy of every API answer: nothing may load, run, frame it or be posted from it. */
export const API_CONTENT_SECURITY_POLICY = "default-src 'none';frame-ancestors 'none';base-uri 'none';form-action 'none'";

const ONE_YEAR_SECONDS = 31_536_000;

/** The same headers as lines of a raw HTTP answer, for what is answered before Express (a request the parser refuses). */
export const RAW_SECURITY_HEADERS =
  `Content-Security-Policy: ${API_CONTENT_SECURITY_POLICY}\r\nReferrer-Policy: no-referrer\r\nX-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\n`;

export function securityHeaders(publicUrl: string | undefined): RequestHandler {
  const https = publicUrl !== undefined && new URL(publicUrl).protocol === 'https:';
  const headers = recorded(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] },
      },
      strictTransportSecurity: https ? { maxAge: ONE_YEAR_SECONDS, includeSubDomains: false } : false,
      referrerPolicy: { policy: 'no-referrer' },
      xFrameOptions: { action: 'deny' },
    }),
  );
  return (_req, res, next) => {
    for (const [name, value] of headers) res.setHeader(name, value);
    next();
  };
}

/**
 * The headers helmet sets, recorded once at start: with this configuration (no nonce, nothing read from the
 * request) they are the same for every answer, and running its dozen middlewares on each request cost more than
 * setting the headers. Helmet only sets headers and removes X-Powered-By (which Express is told not to send).
 */
function recorded(middleware: RequestHandler): ReadonlyArray<readonly [string, string]> {
  const headers = new Map<string, string>();
  const recorder = {
    setHeader: (name: string, value: string) => headers.set(name, String(value)),
    removeHeader: (name: string) => headers.delete(name),
  };
  let done = false;
  void middleware({} as Request, recorder as unknown as Response, () => (done = true));
  if (!done) throw new Error('security headers: helmet did not finish at once');
  return [...headers];
}

/** The sha256 sources of a page's inline scripts (`<script>…</script>` without `src`), for its script-src. */
export function inlineScriptHashes(html: string): string[] {
  const hashes = new Set<string>();
  for (const [, attributes = '', body = ''] of html.matchAll(/<script(\s[^>]*)?>([\s\S]*?)<\/script>/gi)) {
    if (/\ssrc\s*=/i.test(attributes)) continue;
    hashes.add(`'sha256-${createHash('sha256').update(body, 'utf8').digest('base64')}'`);
  }
  return [...hashes];
}

/**
 * The docs page's policy (Redoc, served whole by this server, offline): its own inline scripts by hash and
 * nothing else that runs; inline styles (Redoc's styled components write them at run time); images and fonts
 * from the page itself or `data:`; requests to this server only (the docs' server list names it).
 */
export function docsContentSecurityPolicy(html: string): string {
  return [
    "default-src 'none'",
    `script-src ${inlineScriptHashes(html).join(' ')}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "worker-src 'self' blob:",
    "manifest-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
}
