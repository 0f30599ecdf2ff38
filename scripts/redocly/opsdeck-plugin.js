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

export default function opsdeckPlugin() {
  return {
    id: 'opsdeck',
    rules: { oas3: { 'schema-description': SchemaDescription, 'parameter-example': ParameterExample } },
  };
}
