import { extensionProblems } from '../../server/extensions.ts';

// Lint rules for the Opsdeck contract that Redocly's configurable rules cannot express:
// every schema kept in a file of its own has a description and examples, and
// a property counts as described when it, or the schema its $ref points at, has a description.
function SchemaDescription() {
  return {
    Schema: {
      enter(schema, ctx) {
        if (ctx.location.pointer === '#/' && !schema.description) {
          ctx.report({ message: 'A schema in its own file needs a description.', location: ctx.location });
        }
        // Envelopes are exemplified by every response that uses them (rule/media-type-examples).
        const envelope = typeof schema.title === 'string' && schema.title.endsWith('Envelope');
        if (ctx.location.pointer === '#/' && !envelope && schema.examples === undefined && schema.example === undefined) {
          ctx.report({ message: 'A schema in its own file needs realistic examples.', location: ctx.location });
        }
        if (!schema.properties || typeof schema.properties !== 'object') return;
        for (const [name, property] of Object.entries(schema.properties)) {
          if (property && typeof property === 'object' && property.description) continue;
          const target = property && property.$ref ? ctx.resolve(property).node : undefined;
          if (target && target.description) continue;
          ctx.report({
            message: `Property "${name}" needs a description (or a $ref to a described schema).`,
            location: ctx.location.child(['properties', name]),
          });
        }
      },
    },
  };
}

// Every parameter shows an example value in the docs and the mock.
function ParameterExample() {
  return {
    Parameter: {
      enter(parameter, ctx) {
        if (parameter.example === undefined && parameter.examples === undefined) {
          ctx.report({ message: `Parameter "${parameter.name}" needs an example.`, location: ctx.location });
        }
      },
    },
  };
}

// A deprecated operation says since when (`x-deprecated-at`), until when (`x-sunset`) and what replaces it
// (`x-successor`, an operationId), as RFC 3339 date-times; the server sends them as `Deprecation`, `Sunset`
// and `Link` on every answer and answers `410` after the sunset, so every response declares those headers and
// a `410` is declared. The extensions on an operation that is not deprecated are a mistake.
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const LIFECYCLE = ['x-deprecated-at', 'x-sunset', 'x-successor'];

function Deprecation() {
  const operationIds = new Set();
  const successors = [];
  return {
    Operation: {
      enter(operation, ctx) {
        if (operation.operationId) operationIds.add(operation.operationId);
        if (operation.deprecated !== true) {
          for (const name of LIFECYCLE) {
            if (operation[name] !== undefined) ctx.report({ message: `${name} belongs to a deprecated operation; add \`deprecated: true\` or remove it.`, location: ctx.location.child([name]) });
          }
          return;
        }
        const dates = {};
        for (const name of ['x-deprecated-at', 'x-sunset']) {
          const value = operation[name];
          if (typeof value !== 'string' || !RFC3339.test(value) || Number.isNaN(Date.parse(value))) {
            ctx.report({ message: `A deprecated operation needs ${name}, a quoted RFC 3339 date-time.`, location: ctx.location.child([name]) });
          } else dates[name] = Date.parse(value);
        }
        if (dates['x-sunset'] !== undefined && dates['x-deprecated-at'] !== undefined && dates['x-sunset'] <= dates['x-deprecated-at']) {
          ctx.report({ message: 'x-sunset must come after x-deprecated-at.', location: ctx.location.child(['x-sunset']) });
        }
        const successor = operation['x-successor'];
        if (successor !== undefined) successors.push({ successor, location: ctx.location.child(['x-successor']) });
        const responses = operation.responses ?? {};
        if (!responses['410']) ctx.report({ message: 'A deprecated operation with a sunset declares its 410 (components/responses/Gone.yaml).', location: ctx.location.child(['responses']) });
        for (const [status, declared] of Object.entries(responses)) {
          const response = declared && declared.$ref ? ctx.resolve(declared).node : declared;
          const headers = Object.keys((response && response.headers) ?? {});
          const wanted = successor === undefined ? ['Deprecation', 'Sunset'] : ['Deprecation', 'Sunset', 'Link'];
          const missing = wanted.filter((name) => !headers.includes(name));
          if (missing.length > 0) {
            ctx.report({ message: `Every answer of a deprecated operation carries ${wanted.join(', ')}; response ${status} does not declare ${missing.join(', ')}.`, location: ctx.location.child(['responses', status]) });
          }
        }
      },
    },
    Root: {
      leave(_root, ctx) {
        for (const { successor, location } of successors) {
          if (typeof successor !== 'string' || !operationIds.has(successor)) ctx.report({ message: `x-successor ${JSON.stringify(successor)} is not an operationId of this spec.`, location });
        }
      },
    },
  };
}

// Every `x-` extension is one Opsdeck knows, in its place, with a value of the right shape: the same list and
// schemas the server checks at start-up (server/extensions.ts), so a typo fails the lint before it reaches a
// server. Nodes of other kinds may carry no extension at all.
const NODE_KINDS = ['Root', 'Info', 'Server', 'Tag', 'PathItem', 'Operation', 'Parameter', 'RequestBody', 'Response', 'MediaType', 'Header', 'Schema', 'Example', 'SecurityScheme', 'Components', 'Link'];

function Extensions() {
  return Object.fromEntries(
    NODE_KINDS.map((kind) => [
      kind,
      {
        enter(node, ctx) {
          for (const problem of extensionProblems(kind, node, kind)) {
            const name = /(x-[A-Za-z0-9-]+)/.exec(problem)?.[1];
            ctx.report({ message: problem, location: name && name in node ? ctx.location.child([name]).key() : ctx.location });
          }
        },
      },
    ]),
  );
}

// `x-websocket` holds schemas (a WebSocket operation's messages, server/extensions.ts): declared as such, Redocly
// lints them, counts their $refs as uses and bundles them into components.schemas like any other schema.
function typeExtension(types) {
  return {
    ...types,
    WebSocketMessages: { properties: { client: 'Schema', server: 'Schema' }, required: ['client', 'server'] },
    Operation: { ...types.Operation, properties: { ...types.Operation.properties, 'x-websocket': 'WebSocketMessages' } },
  };
}

export default function opsdeckPlugin() {
  return {
    id: 'opsdeck',
    rules: { oas3: { 'schema-description': SchemaDescription, 'parameter-example': ParameterExample, deprecation: Deprecation, extensions: Extensions } },
    typeExtension: { oas3: typeExtension },
  };
}
