// The catalogue of change rules: each rule has one fixed severity, so a reviewer can read the policy here
// and every fixture under test/spec-diff/fixtures/<rule>/ proves one line of it.
//
// Direction matters. A request-side change is breaking when a request that was valid before is refused
// (or means something else) after it; a response-side change is breaking when something a client could
// rely on before no longer holds. Seed 000 lists the minimum; the choices it leaves open are noted inline.

export type Severity = 'breaking' | 'non-breaking' | 'documentation';

// How the changelog words a change for clients.
export type Category = 'added' | 'changed' | 'deprecated' | 'removed';

export interface RuleInfo {
  severity: Severity;
  category: Category;
  title: string;
}

const rule = (severity: Severity, category: Category, title: string): RuleInfo => ({ severity, category, title });

export const RULES = {
  // Operations (method + path; a renamed path parameter is the same URL, so the same operation)
  'operation-added': rule('non-breaking', 'added', 'New operation'),
  'operation-removed': rule('breaking', 'removed', 'Operation removed without deprecation'),
  'operation-removed-before-sunset': rule('breaking', 'removed', 'Deprecated operation removed before its x-sunset date passed'),
  'operation-removed-after-sunset': rule('non-breaking', 'removed', 'Deprecated operation removed after its x-sunset date'),
  'operation-deprecated': rule('non-breaking', 'deprecated', 'Operation deprecated'),
  'operation-undeprecated': rule('non-breaking', 'changed', 'Operation no longer deprecated'),
  'operation-sunset-announced': rule('non-breaking', 'deprecated', 'Sunset date (x-sunset) set or moved'),
  // Generated clients name their methods after operationIds.
  'operation-id-changed': rule('breaking', 'changed', 'operationId changed or removed'),

  // Webhooks (the spec's `webhooks`): requests Opsdeck sends; their payloads follow the response rules.
  'webhook-added': rule('non-breaking', 'added', 'New webhook'),
  'webhook-removed': rule('breaking', 'removed', 'Webhook no longer sent'),

  // Parameters (in + name; path parameters by position)
  'parameter-added-required': rule('breaking', 'changed', 'New required parameter'),
  'parameter-added-optional': rule('non-breaking', 'added', 'New optional parameter'),
  // Opsdeck answers unknown query parameters with 400, so a request that sent it now fails.
  'parameter-removed': rule('breaking', 'removed', 'Parameter removed'),
  'parameter-became-required': rule('breaking', 'changed', 'Optional parameter made required'),
  'parameter-became-optional': rule('non-breaking', 'changed', 'Required parameter made optional'),
  'parameter-style-changed': rule('breaking', 'changed', 'Parameter serialisation (style, explode) changed'),
  'parameter-reserved-allowed': rule('non-breaking', 'changed', 'Parameter now accepts reserved characters unencoded'),
  'parameter-reserved-disallowed': rule('breaking', 'changed', 'Parameter no longer accepts reserved characters unencoded'),

  // Request bodies
  'request-body-added-required': rule('breaking', 'changed', 'Required request body added'),
  'request-body-added-optional': rule('non-breaking', 'added', 'Optional request body added'),
  'request-body-removed': rule('breaking', 'removed', 'Request body removed'),
  'request-body-became-required': rule('breaking', 'changed', 'Request body made required'),
  'request-body-became-optional': rule('non-breaking', 'changed', 'Request body made optional'),
  'request-media-type-added': rule('non-breaking', 'added', 'Request media type added'),
  'request-media-type-removed': rule('breaking', 'removed', 'Request media type removed'),

  // Request schemas (bodies and parameters): what the server accepts
  'request-property-added-required': rule('breaking', 'changed', 'New required request field'),
  'request-property-added-optional': rule('non-breaking', 'added', 'New optional request field'),
  'request-property-removed': rule('breaking', 'removed', 'Request field removed or renamed'),
  'request-property-became-required': rule('breaking', 'changed', 'Optional request field made required'),
  'request-property-became-optional': rule('non-breaking', 'changed', 'Required request field made optional'),
  'request-type-changed': rule('breaking', 'changed', 'Request type changed'),
  'request-type-widened': rule('non-breaking', 'changed', 'Request type widened (more values accepted)'),
  'request-format-changed': rule('breaking', 'changed', 'Request format added or changed'),
  'request-format-removed': rule('non-breaking', 'changed', 'Request format removed (more values accepted)'),
  'request-enum-narrowed': rule('breaking', 'changed', 'Request enum values removed or enum introduced'),
  'request-enum-widened': rule('non-breaking', 'changed', 'Request enum values added'),
  // Bounds: min/max length, items, properties, minimum/maximum, multipleOf, pattern, uniqueItems,
  // additionalProperties. A bound that changed in a way that is neither tighter nor looser counts as narrowed.
  'request-bounds-narrowed': rule('breaking', 'changed', 'Request bounds narrowed'),
  'request-bounds-widened': rule('non-breaking', 'changed', 'Request bounds widened'),
  // A client that omits the field gets different behaviour.
  'request-default-changed': rule('breaking', 'changed', 'Request default changed or removed'),
  'request-variant-added': rule('non-breaking', 'changed', 'Request oneOf/anyOf variant added'),
  'request-variant-removed': rule('breaking', 'changed', 'Request oneOf/anyOf variant removed'),

  // Responses
  'response-status-added': rule('non-breaking', 'added', 'Response status added'),
  'response-status-removed': rule('breaking', 'removed', 'Response status removed'),
  'response-media-type-added': rule('non-breaking', 'added', 'Response media type added'),
  'response-media-type-removed': rule('breaking', 'removed', 'Response media type removed'),
  'response-header-added': rule('non-breaking', 'added', 'Response header added'),
  'response-header-removed': rule('breaking', 'removed', 'Response header removed'),

  // Response schemas (bodies and headers): what a client may rely on
  'response-property-added': rule('non-breaking', 'added', 'Response field added'),
  'response-property-removed': rule('breaking', 'removed', 'Response field removed or renamed'),
  'response-property-became-optional': rule('breaking', 'changed', 'Response field no longer always present'),
  'response-property-became-required': rule('non-breaking', 'changed', 'Response field now always present'),
  'response-type-changed': rule('breaking', 'changed', 'Response type changed'),
  'response-type-narrowed': rule('non-breaking', 'changed', 'Response type narrowed (fewer values sent)'),
  'response-format-changed': rule('breaking', 'changed', 'Response format changed or removed'),
  'response-format-added': rule('non-breaking', 'changed', 'Response format added'),
  // Seed 000: adding enum values is non-breaking "with default handling": clients must map unknown values
  // to a default. The report says so next to each such change.
  'response-enum-value-added': rule('non-breaking', 'changed', 'Response enum value added (clients must handle unknown values)'),
  'response-enum-narrowed': rule('non-breaking', 'changed', 'Response enum values removed'),
  'response-enum-removed': rule('breaking', 'changed', 'Response enum dropped: any value may now be sent'),
  'response-bounds-widened': rule('breaking', 'changed', 'Response bounds widened'),
  'response-bounds-narrowed': rule('non-breaking', 'changed', 'Response bounds narrowed'),
  'response-variant-added': rule('breaking', 'changed', 'Response oneOf/anyOf variant added'),
  'response-variant-removed': rule('non-breaking', 'changed', 'Response oneOf/anyOf variant removed'),

  // Fields, parameters or schemas marked deprecated
  'property-deprecated': rule('non-breaking', 'deprecated', 'Field or parameter deprecated'),

  // Authentication and permissions (security requirements list the required permissions as scopes)
  'security-required': rule('breaking', 'changed', 'Authentication now required'),
  'security-removed': rule('non-breaking', 'changed', 'Authentication no longer required'),
  'security-alternative-added': rule('non-breaking', 'added', 'Another authentication mechanism accepted'),
  'security-alternative-removed': rule('breaking', 'removed', 'Authentication mechanism no longer accepted'),
  'security-scopes-added': rule('breaking', 'changed', 'More permissions (scopes) required'),
  'security-scopes-removed': rule('non-breaking', 'changed', 'Fewer permissions (scopes) required'),
  'security-scheme-changed': rule('breaking', 'changed', 'Security scheme definition changed or removed'),
  'permission-added': rule('breaking', 'changed', 'Operation requires a new permission (x-permission)'),
  'permission-removed': rule('non-breaking', 'changed', 'Operation requires fewer permissions (x-permission)'),
  'role-permissions-narrowed': rule('breaking', 'removed', 'Role removed or lost a permission (x-roles)'),
  'role-permissions-widened': rule('non-breaking', 'added', 'Role added or gained a permission (x-roles)'),

  // Anything the engine cannot judge is breaking until a reviewer says otherwise.
  'unclassified-change': rule('breaking', 'changed', 'Change the tool cannot classify: review by hand'),

  // Descriptions, summaries, titles, examples, tags, servers, info (but not info.version), x- extensions
  documentation: rule('documentation', 'changed', 'Documentation only'),
} as const satisfies Record<string, RuleInfo>;

export type RuleId = keyof typeof RULES;

export const RULE_IDS = Object.keys(RULES) as RuleId[];
