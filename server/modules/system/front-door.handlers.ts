// `GET /` (`getIndex`): the front door. A browser is sent on to the docs (303); any other client gets a small
// JSON index of where this server's parts are, as paths on this server.
import { spec } from '../../contract.ts';
import type { HandlerMap, HandlerResult } from '../../http/operation-types.ts';
import { version as serverVersion } from '../../version.ts';

const LINKS = {
  docs: '/docs',
  openapi_json: '/openapi.json',
  openapi_yaml: '/openapi.yaml',
  asyncapi_json: '/asyncapi.json',
  api_v1: '/api/v1',
  api_v2: '/api/v2',
  health_live: '/health/live',
  health_ready: '/health/ready',
  metrics: '/metrics',
  version: '/api/v1/system/version',
};

/** The quality an `Accept` header gives a media type: its best matching range (exact, `type/*`, `*\/*`), 0 when none matches. */
function quality(ranges: ReadonlyArray<{ type: string; q: number }>, mediaType: string): { q: number; exact: boolean } {
  const [type] = mediaType.split('/');
  let best: { q: number; specificity: number } = { q: 0, specificity: -1 };
  for (const range of ranges) {
    const specificity = range.type === mediaType ? 2 : range.type === `${type}/*` ? 1 : range.type === '*/*' ? 0 : -1;
    if (specificity > best.specificity) best = { q: range.q, specificity };
  }
  return { q: best.q, exact: best.specificity === 2 };
}

/**
 * Whether the client wants HTML rather than JSON: it names `text/html` itself (a browser does), with a quality
 * above JSON's, or equal to it and listed first. `*\/*` alone (curl), `application/json`, or no `Accept` is JSON.
 */
export function prefersHtml(accept: string | undefined): boolean {
  if (!accept) return false;
  const ranges = accept.split(',').map((part) => {
    const [type = '', ...params] = part.split(';').map((p) => p.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    const value = q === undefined ? 1 : Number(q.slice(2));
    return { type, q: Number.isFinite(value) ? value : 0 };
  });
  const html = quality(ranges, 'text/html');
  if (!html.exact || html.q <= 0) return false;
  const json = quality(ranges, 'application/json');
  if (html.q !== json.q) return html.q > json.q;
  return ranges.findIndex((r) => r.type === 'text/html') < ranges.findIndex((r) => r.type === 'application/json' || r.type === 'application/*' || r.type === '*/*');
}

export function frontDoorHandlers(): Pick<HandlerMap, 'getIndex'> {
  return {
    async getIndex({ ctx }): Promise<HandlerResult<'getIndex'>> {
      if (prefersHtml(ctx.accept)) return { status: 303, headers: { Location: LINKS.docs, Vary: 'Accept' } };
      return {
        status: 200,
        headers: { Vary: 'Accept' },
        body: { data: { name: 'opsdeck', version: serverVersion, api_version: spec.info.version, links: LINKS } },
      };
    },
  };
}
