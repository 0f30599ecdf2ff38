// The `webhooks` section: requests Opsdeck sends to its consumers. A receiver reads a payload the way a
// client reads a response, so payload schemas are compared in the response direction: a field removed or
// made optional breaks receivers, a field added does not. A webhook that is no longer sent is breaking for
// whoever relied on it; a new one is not.
import { deref } from './resolve.ts';
import { diffSchemas } from './schema-diff.ts';
import { code, isObj, same, type Changes, type Obj, type Scope } from './types.ts';

const DOC_KEYS = ['summary', 'description', 'tags'];

function postOf(doc: Obj, raw: unknown): Obj | undefined {
  const post = deref(doc, raw).value?.post;
  return isObj(post) ? post : undefined;
}

function payloads(doc: Obj, post: Obj): Obj {
  const body = deref(doc, post.requestBody).value;
  return isObj(body?.content) ? body.content : {};
}

export function diffWebhooks(changes: Changes, before: Obj, after: Obj): void {
  const wb = isObj(before.webhooks) ? before.webhooks : {};
  const wa = isObj(after.webhooks) ? after.webhooks : {};
  for (const [name, raw] of Object.entries(wb)) {
    const scope: Scope = { operation: `webhook ${name}`, resource: 'Webhooks' };
    if (!(name in wa)) {
      changes.add(scope, 'webhook-removed', 'webhook', 'no longer sent');
      continue;
    }
    const b = postOf(before, raw) ?? {};
    const a = postOf(after, wa[name]) ?? {};
    for (const key of DOC_KEYS) {
      if (!same(b[key], a[key])) changes.add(scope, 'documentation', 'webhook', `${code(key)} changed`);
    }
    const pb = payloads(before, b);
    const pa = payloads(after, a);
    for (const [mediaType, media] of Object.entries(pb)) {
      const location = `payload (${mediaType})`;
      if (!(mediaType in pa)) {
        changes.add(scope, 'response-media-type-removed', location, `${code(mediaType)} no longer sent`);
        continue;
      }
      const schemaOf = (m: unknown) => (isObj(m) && m.schema !== undefined ? m.schema : {});
      diffSchemas({ before, after, direction: 'response', changes, scope, location }, schemaOf(media), schemaOf(pa[mediaType]));
    }
    for (const mediaType of Object.keys(pa)) {
      if (!(mediaType in pb)) changes.add(scope, 'response-media-type-added', `payload (${mediaType})`, `${code(mediaType)} now sent`);
    }
  }
  for (const name of Object.keys(wa)) {
    if (!(name in wb)) {
      const summary = postOf(after, wa[name])?.summary;
      changes.add({ operation: `webhook ${name}`, resource: 'Webhooks' }, 'webhook-added', 'webhook', `new webhook${typeof summary === 'string' && summary !== name ? `: ${summary}` : ''}`);
    }
  }
}
