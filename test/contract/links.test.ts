// The contract chains its operations with OpenAPI `links`, and its `Location` examples say what the server
// sends, so a tool can run a workflow from the spec alone (create → get, update, delete; action → its task)
// and the mock answers what the server would:
// - every create (201) links to each get, update and delete of the resource its Location names;
// - every accepted action (202) links to the GET of what its Location names (a task, a delivery, a deployment);
// - each link names an existing operation, fills exactly its path parameters, and on the answer's own
//   example leads to the path of the Location example; that path is the one the body's ids make, as the
//   server builds it (`status_url` too).
import type { OpenAPIV3_1 } from 'openapi-types';
import { describe, expect, it } from 'vitest';
import { operationsById, resolveRef, spec, type OperationInfo } from '../../server/contract.ts';
import { evaluate, linksOf, linkTarget, responseOf } from './links.ts';

interface Answer {
  info: OperationInfo;
  status: string;
  response: OpenAPIV3_1.ResponseObject;
}

/** Every answer that declares a Location header. */
const withLocation: Answer[] = [...operationsById.values()].flatMap((info) =>
  Object.keys(info.operation.responses ?? {}).flatMap((status) => {
    const response = responseOf(info.operationId, status);
    return response.headers?.Location ? [{ info, status, response }] : [];
  }),
);
/** Those that name what the request made or started; a redirect's (3xx: `GET /` to the docs) names where to go instead. */
const located = withLocation.filter((a) => !a.status.startsWith('3'));

const templates = Object.keys(spec.paths ?? {}).map((path) => ({
  path,
  regex: new RegExp(`^${path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '([^/]+)')}$`),
}));

/** The spec's path template a concrete path is an instance of. */
function templateOf(path: string): string | undefined {
  return templates.find((t) => t.regex.test(path))?.path;
}

// A Location's path, without the query that some carry (a setting's scope: `?scope=team&team_id=…`).
const locationExample = (a: Answer) => (resolveRef<OpenAPIV3_1.HeaderObject>(a.response.headers!.Location as never).example as string).split('?')[0]!;
const bodyExample = (a: Answer): unknown => {
  const examples = (a.response.content?.['application/json']?.examples ?? {}) as Record<string, unknown>;
  const first = Object.values(examples)[0];
  return first === undefined ? undefined : resolveRef<{ value: unknown }>(first as never).value;
};
const idOf = (path: string) => path.split('/').at(-1);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** What a path parameter's value looks like: a UUID, or a name of the pattern it declares (a setting's `key`). */
function valueShape(target: { operationId: string }, param: string): RegExp {
  const info = operationsById.get(target.operationId as never)!;
  const declared = [...((spec.paths?.[info.path]?.parameters ?? []) as never[]), ...((info.operation.parameters ?? []) as never[])].map((p) => resolveRef<OpenAPIV3_1.ParameterObject>(p));
  const schema = declared.find((p) => p.in === 'path' && p.name === param)?.schema as OpenAPIV3_1.SchemaObject | undefined;
  return schema?.format === 'uuid' || !schema?.pattern ? UUID : new RegExp(schema.pattern);
}

const METHODS = ['get', 'put', 'patch', 'delete'] as const;
const label = (a: Answer) => `${a.info.operationId} ${a.status}`;

describe('links and Location examples', () => {
  it('declares a Location only on creates, accepted actions and redirects of a GET', () => {
    const redirects = withLocation.filter((a) => a.status.startsWith('3'));
    expect(redirects.map(label).sort()).toEqual(['completeOAuthSignIn 302', 'getIndex 303', 'startOAuthSignIn 302']);
    expect(redirects.every((a) => a.info.method === 'get')).toBe(true);
  });

  it('finds the creates and the accepted actions', () => {
    expect(located.filter((a) => a.status === '201').map((a) => a.info.operationId)).toEqual(expect.arrayContaining(['createAgent', 'createTeam', 'createWebhook']));
    expect(located.filter((a) => a.status === '202').map((a) => a.info.operationId)).toEqual(expect.arrayContaining(['rebootAgent', 'retryTask', 'pingWebhook']));
    expect(located.every((a) => a.status === '201' || a.status === '202')).toBe(true);
  });

  it.each(located.map((a) => [label(a), a] as const))('%s: its Location example is a path of the spec, made of the ids of its body example', (_, a) => {
    const location = locationExample(a);
    expect(templateOf(location), location).toBeDefined();
    const data = (bodyExample(a) as { data: Record<string, unknown> }).data;
    // The last id of the path is the body's own id (a membership's user, an enrolment's agent, an issued certificate, a task's id).
    const own = data.status_url ?? data.id ?? data.user_id ?? (data.agent as { id?: string } | undefined)?.id ?? (data.certificate as { id?: string } | undefined)?.id ?? data.task_id ?? data.key;
    if (typeof own === 'string' && own.startsWith('/')) expect(location).toBe(own);
    else expect(idOf(location)).toBe(own);
    // Where the body says its team or parent, the path agrees.
    for (const key of ['pipeline_id', 'webhook_id'] as const) if (typeof data[key] === 'string') expect(location).toContain(`/${String(data[key])}/`);
  });

  it.each(located.map((a) => [label(a), a] as const))('%s: links to what it made, and its links lead to its Location', (_, a) => {
    const links = linksOf(a.info.operationId, a.status);
    const location = locationExample(a);
    const resource = templateOf(location)!;
    const expected = a.status === '201' ? METHODS.flatMap((m) => spec.paths?.[resource]?.[m]?.operationId ?? []) : [spec.paths?.[resource]?.get?.operationId];
    expect(expected.length, `${resource} has operations`).toBeGreaterThan(0);
    expect(Object.values(links).map((l) => l.operationId)).toEqual(expect.arrayContaining(expected));

    // The request's path parameters, as the Location example shows them (a team's members are under its path).
    const requestPath: Record<string, string> = {};
    const sourceNames = [...a.info.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
    const resourceNames = [...resource.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
    const resourceValues = templates.find((t) => t.path === resource)!.regex.exec(location)!.slice(1);
    resourceNames.forEach((name, i) => {
      if (sourceNames.includes(name)) requestPath[name] = resourceValues[i]!;
    });

    for (const [name, link] of Object.entries(links)) {
      const target = linkTarget(link);
      const parameters = (link.parameters ?? {}) as Record<string, string>;
      const targetNames = [...target.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
      expect(Object.keys(parameters).sort(), `${name} fills the path parameters of ${target.operationId}`).toEqual([...targetNames].sort());
      const filled = target.path.replace(/\{([^}]+)\}/g, (_m, param: string) => {
        const expression = parameters[param]!;
        expect(expression, `${name}.${param}`).toMatch(/^\$response\.body#\/|^\$request\.path\./);
        if (expression.startsWith('$request.path.')) expect(sourceNames, `${name}.${param}`).toContain(expression.slice('$request.path.'.length));
        const value = evaluate(expression, { body: bodyExample(a), path: requestPath });
        expect(value, `${name}.${param} on the example`).toMatch(valueShape(target, param));
        return String(value);
      });
      // A link to the resource's (or task's) own operations leads where Location points.
      if (target.path === resource) expect(filled, name).toBe(location);
    }
  });
});
