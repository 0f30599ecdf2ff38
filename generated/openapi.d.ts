// GENERATED from spec/ by `npm run generate`. Do not edit: change spec/ and regenerate.
export interface paths {
    "/api/v1/agents": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List agents
         * @description Lists the fleet's agents, newest first unless `sort` says otherwise.
         *
         *     **Offset mode** (default): `limit` and `offset`; `pagination` counts the matches and links every page.
         *     **Cursor mode**: send `cursor` (empty for the first page, then `pagination.next_cursor`); nothing is
         *     counted and a page costs the same at any depth, so use it to walk large fleets.
         */
        get: operations["listAgents"];
        put?: never;
        /**
         * Create an agent
         * @description Registers a host with the fleet. Its hostname must not be taken (regardless of case).
         */
        post: operations["createAgent"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/agents/{agent_id}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The agent's id.
                 * @example 0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d
                 */
                agent_id: components["parameters"]["AgentId"];
            };
            cookie?: never;
        };
        /**
         * Get an agent
         * @description Returns one agent with every field.
         */
        get: operations["getAgent"];
        /**
         * Replace an agent
         * @description Replaces every writable field of the agent. Read-only fields (`id`, times) are kept.
         */
        put: operations["replaceAgent"];
        post?: never;
        /**
         * Delete an agent
         * @description Removes the agent from the fleet. Deleting it again answers 404.
         */
        delete: operations["deleteAgent"];
        options?: never;
        head?: never;
        /**
         * Update an agent
         * @description Changes some fields of the agent with a JSON merge patch (RFC 7396).
         */
        patch: operations["updateAgent"];
        trace?: never;
    };
    "/api/v1/system/version": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Version
         * @description Which release of Opsdeck and which version of the contract this server runs.
         */
        get: operations["getSystemVersion"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/health/live": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Liveness
         * @description Answers 200 while the process runs and its event loop turns. Never rate limited, needs no credentials.
         */
        get: operations["getLiveness"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/health/ready": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Readiness
         * @description Answers 200 when the database (and Redis, where one is configured) answer within a short timeout,
         *     503 when one does not or the process is shutting down, so a load balancer stops sending it traffic.
         */
        get: operations["getReadiness"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        /**
         * AgentStatus
         * @description `online`: heartbeats arrive. `offline`: no heartbeat for a while. `maintenance`: set by an operator;
         *     the agent takes no new work.
         * @example online
         * @enum {string}
         */
        AgentStatus: "online" | "offline" | "maintenance";
        /**
         * Platform
         * @description The operating-system family of a host.
         * @example linux
         * @enum {string}
         */
        Platform: "linux" | "windows" | "macos" | "bsd";
        /**
         * Hostname
         * @description The host's name (RFC 1123 labels joined by dots), unique in the fleet regardless of case.
         * @example web-01.prod.example.com
         */
        Hostname: string;
        /**
         * IpAddress
         * Format: ip
         * @description The host's primary address, IPv4 or IPv6. Answers give it in canonical form.
         * @example 10.0.4.21
         */
        IpAddress: string;
        /**
         * OsVersion
         * @description The operating system's name and version as the host reports it, or `null` when unknown.
         * @example Ubuntu 24.04.1 LTS
         */
        OsVersion: string | null;
        /**
         * AgentVersion
         * @description The version of the Opsdeck agent running on the host (semantic version), or `null` when unknown.
         * @example 2.4.1
         */
        AgentVersion: string | null;
        /**
         * Tags
         * @description Free labels for grouping and searching hosts; lower-case words, each at most once.
         * @example [
         *       "production",
         *       "web",
         *       "eu-west-1"
         *     ]
         */
        Tags: string[];
        /**
         * AgentFields
         * @description The fields of an agent, of which only `id` is always present: a list asked for with `fields=…`
         *     carries just the fields named. Without `fields`, every field is present, as in `Agent`.
         * @example {
         *       "id": "0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d",
         *       "hostname": "web-01.prod.example.com",
         *       "status": "online"
         *     }
         */
        AgentFields: {
            /**
             * Format: uuid
             * @description The agent's id (UUIDv7, so ids sort by creation time).
             * @example 0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d
             */
            readonly id: string;
            hostname?: components["schemas"]["Hostname"];
            ip_address?: components["schemas"]["IpAddress"];
            platform?: components["schemas"]["Platform"];
            os_version?: components["schemas"]["OsVersion"];
            agent_version?: components["schemas"]["AgentVersion"];
            status?: components["schemas"]["AgentStatus"];
            tags?: components["schemas"]["Tags"];
            /**
             * Format: date-time
             * @description When the last heartbeat arrived (RFC 3339, UTC), or `null` before the first.
             * @example 2026-11-21T10:29:41.000Z
             */
            readonly last_seen?: string | null;
            /**
             * Format: date-time
             * @description When the agent was created (RFC 3339, UTC).
             * @example 2026-11-02T08:15:00.000Z
             */
            readonly created_at?: string;
            /**
             * Format: date-time
             * @description When the agent was last changed (RFC 3339, UTC).
             * @example 2026-11-20T17:02:12.000Z
             */
            readonly updated_at?: string;
        };
        /**
         * Meta
         * @description Facts about the answer itself, present on every response envelope.
         * @example {
         *       "request_id": "req_01J9Y4V8QK6M2T3N7W5X0Z1A2B",
         *       "timestamp": "2026-11-21T10:30:00.000Z",
         *       "api_version": "1.0",
         *       "execution_time_ms": 4
         *     }
         */
        Meta: {
            /**
             * @description The request's id, as in the `X-Request-ID` header; quote it when reporting a problem.
             * @example req_01J9Y4V8QK6M2T3N7W5X0Z1A2B
             */
            request_id: string;
            /**
             * Format: date-time
             * @description When the answer was made (RFC 3339, UTC).
             * @example 2026-11-21T10:30:00.000Z
             */
            timestamp: string;
            /**
             * @description The version of the contract that answered (major.minor of the spec's version).
             * @example 1.0
             */
            api_version: string;
            /**
             * @description Time the server spent on the request, in milliseconds.
             * @example 4
             */
            execution_time_ms?: number;
        };
        /**
         * PaginationLinks
         * @description Relative links to neighbouring pages, also sent in the `Link` header (RFC 8288). A link is `null` where there is no such page.
         * @example {
         *       "self": "/api/v1/agents?limit=50&offset=50",
         *       "first": "/api/v1/agents?limit=50&offset=0",
         *       "prev": "/api/v1/agents?limit=50&offset=0",
         *       "next": "/api/v1/agents?limit=50&offset=100",
         *       "last": "/api/v1/agents?limit=50&offset=200"
         *     }
         */
        PaginationLinks: {
            /**
             * @description This page.
             * @example /api/v1/agents?limit=50&offset=50
             */
            self: string;
            /**
             * @description The first page.
             * @example /api/v1/agents?limit=50&offset=0
             */
            first: string;
            /**
             * @description The page before this one.
             * @example /api/v1/agents?limit=50&offset=0
             */
            prev: string | null;
            /**
             * @description The page after this one.
             * @example /api/v1/agents?limit=50&offset=100
             */
            next: string | null;
            /**
             * @description The last page (offset mode only; cursor mode does not count).
             * @example /api/v1/agents?limit=50&offset=200
             */
            last?: string | null;
        };
        /**
         * OffsetPagination
         * @description Where a page of an offset-mode list (`limit` and `offset`) stands in the whole list.
         * @example {
         *       "mode": "offset",
         *       "page": 2,
         *       "per_page": 50,
         *       "total": 247,
         *       "total_pages": 5,
         *       "has_next": true,
         *       "has_prev": true,
         *       "links": {
         *         "self": "/api/v1/agents?limit=50&offset=50",
         *         "first": "/api/v1/agents?limit=50&offset=0",
         *         "prev": "/api/v1/agents?limit=50&offset=0",
         *         "next": "/api/v1/agents?limit=50&offset=100",
         *         "last": "/api/v1/agents?limit=50&offset=200"
         *       }
         *     }
         */
        OffsetPagination: {
            /**
             * @description Always `offset` here. (enum property replaced by openapi-typescript)
             * @enum {string}
             */
            mode: "offset";
            /**
             * @description The page number, from 1 (`offset / limit + 1`).
             * @example 2
             */
            page: number;
            /**
             * @description The `limit` in force.
             * @example 50
             */
            per_page: number;
            /**
             * @description How many items match the filters.
             * @example 247
             */
            total: number;
            /**
             * @description How many pages of `per_page` items there are.
             * @example 5
             */
            total_pages: number;
            /**
             * @description Whether a page follows this one.
             * @example true
             */
            has_next: boolean;
            /**
             * @description Whether a page comes before this one.
             * @example true
             */
            has_prev: boolean;
            links: components["schemas"]["PaginationLinks"];
        };
        /**
         * CursorPagination
         * @description Where a page of a cursor-mode list stands. Pass `next_cursor` back as `cursor` for the next page.
         *     Nothing is counted, so a page costs the same however deep it is.
         * @example {
         *       "mode": "cursor",
         *       "per_page": 50,
         *       "has_next": true,
         *       "has_prev": true,
         *       "next_cursor": "eyJrIjpbIjIwMjYtMTEtMDJUMDg6MTU6MDAuMDAwWiJdLCJpZCI6IjAxOTJmMGMxIn0",
         *       "links": {
         *         "self": "/api/v1/agents?limit=50&cursor=eyJxIjoiIn0",
         *         "first": "/api/v1/agents?limit=50&cursor=",
         *         "prev": null,
         *         "next": "/api/v1/agents?limit=50&cursor=eyJrIjpbIjIwMjYtMTEtMDJUMDg6MTU6MDAuMDAwWiJdLCJpZCI6IjAxOTJmMGMxIn0",
         *         "last": null
         *       }
         *     }
         */
        CursorPagination: {
            /**
             * @description Always `cursor` here. (enum property replaced by openapi-typescript)
             * @enum {string}
             */
            mode: "cursor";
            /**
             * @description The `limit` in force.
             * @example 50
             */
            per_page: number;
            /**
             * @description Whether a page follows this one.
             * @example true
             */
            has_next: boolean;
            /**
             * @description Whether this page was reached with a cursor (the list has a start before it).
             * @example true
             */
            has_prev: boolean;
            /**
             * @description The opaque cursor of the next page, or `null` on the last page.
             * @example eyJrIjpbIjIwMjYtMTEtMDJUMDg6MTU6MDAuMDAwWiJdLCJpZCI6IjAxOTJmMGMxIn0
             */
            next_cursor: string | null;
            links: components["schemas"]["PaginationLinks"];
        };
        /**
         * Pagination
         * @description Where a page stands in its list; its `mode` says whether it was asked for by offset or by cursor.
         * @example {
         *       "mode": "offset",
         *       "page": 1,
         *       "per_page": 50,
         *       "total": 12,
         *       "total_pages": 1,
         *       "has_next": false,
         *       "has_prev": false,
         *       "links": {
         *         "self": "/api/v1/agents?limit=50&offset=0",
         *         "first": "/api/v1/agents?limit=50&offset=0",
         *         "prev": null,
         *         "next": null,
         *         "last": "/api/v1/agents?limit=50&offset=0"
         *       }
         *     }
         */
        Pagination: components["schemas"]["OffsetPagination"] | components["schemas"]["CursorPagination"];
        /**
         * AgentListEnvelope
         * @description A page of agents, in the success envelope.
         */
        AgentListEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            /** @description The agents of this page, each trimmed to `fields` when that was asked for. */
            data: components["schemas"]["AgentFields"][];
            meta: components["schemas"]["Meta"];
            pagination: components["schemas"]["Pagination"];
        };
        /**
         * ErrorCode
         * @description A stable, machine-readable error code. Each code is always answered with the same HTTP status
         *     (`x-http-status`); its meaning never changes once published. Clients branch on the code, not on the message.
         * @example RES_NOT_FOUND
         */
        ErrorCode: string & ("AUTH_REQUIRED" | "AUTH_INVALID_TOKEN" | "AUTH_EXPIRED_TOKEN" | "AUTH_INVALID_CREDENTIALS" | "PERM_DENIED" | "VAL_MALFORMED_REQUEST" | "VAL_INVALID_PARAMETER" | "VAL_ERROR" | "VAL_MULTIPLE_ERRORS" | "VAL_REQUIRED_FIELD" | "VAL_INVALID_FORMAT" | "VAL_PAYLOAD_TOO_LARGE" | "VAL_UNSUPPORTED_MEDIA_TYPE" | "RES_NOT_FOUND" | "RES_METHOD_NOT_ALLOWED" | "RES_ALREADY_EXISTS" | "RES_CONFLICT" | "RES_PRECONDITION_FAILED" | "BIZ_AGENT_OFFLINE" | "BIZ_TASK_ALREADY_RUNNING" | "RATE_LIMIT_EXCEEDED" | "RATE_QUOTA_EXCEEDED" | "SYS_INTERNAL_ERROR" | "EXT_DATABASE_ERROR" | "EXT_SERVICE_UNAVAILABLE" | "SYS_MAINTENANCE");
        /**
         * ErrorDetail
         * @description One problem with the request, tied to the field or parameter that caused it.
         * @example {
         *       "field": "ip_address",
         *       "message": "must match format \"ip\"",
         *       "value": "192.168.1"
         *     }
         */
        ErrorDetail: {
            /**
             * @description Where the problem is, as a dotted path into the body (`tags.2`) or a parameter name (`limit`).
             * @example ip_address
             */
            field?: string;
            /**
             * @description What is wrong, for a person.
             * @example must match format "ip"
             */
            message: string;
            /**
             * @description The value that was refused, when it is short enough to echo back.
             * @example 192.168.1
             */
            value?: unknown;
        };
        /**
         * ErrorEnvelope
         * @description The body of every error answer.
         */
        ErrorEnvelope: {
            /**
             * @description Always `false` on an error.
             * @constant
             */
            success: false;
            /** @description What went wrong. */
            error: {
                code: components["schemas"]["ErrorCode"];
                /**
                 * @description A sentence for a person; may change between releases, unlike `code`.
                 * @example Agent 0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d not found
                 */
                message: string;
                /** @description Field-level problems, for validation errors. */
                details?: components["schemas"]["ErrorDetail"][];
                /**
                 * @description Where the code is explained.
                 * @example /docs#tag/Errors
                 */
                help_url?: string;
            };
            meta: components["schemas"]["Meta"];
        };
        /**
         * AgentCreate
         * @description A new agent. Fields left out take their defaults.
         * @example {
         *       "hostname": "web-01.prod.example.com",
         *       "ip_address": "10.0.4.21",
         *       "platform": "linux",
         *       "os_version": "Ubuntu 24.04.1 LTS",
         *       "agent_version": "2.4.1",
         *       "tags": [
         *         "production",
         *         "web"
         *       ]
         *     }
         */
        AgentCreate: {
            hostname: components["schemas"]["Hostname"];
            ip_address: components["schemas"]["IpAddress"];
            platform: components["schemas"]["Platform"];
            os_version?: components["schemas"]["OsVersion"];
            agent_version?: components["schemas"]["AgentVersion"];
            status?: components["schemas"]["AgentStatus"];
            tags?: components["schemas"]["Tags"];
        };
        /**
         * Agent
         * @description A host of the fleet, with every field present.
         * @example {
         *       "id": "0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d",
         *       "hostname": "web-01.prod.example.com",
         *       "ip_address": "10.0.4.21",
         *       "platform": "linux",
         *       "os_version": "Ubuntu 24.04.1 LTS",
         *       "agent_version": "2.4.1",
         *       "status": "online",
         *       "tags": [
         *         "production",
         *         "web"
         *       ],
         *       "last_seen": "2026-11-21T10:29:41.000Z",
         *       "created_at": "2026-11-02T08:15:00.000Z",
         *       "updated_at": "2026-11-20T17:02:12.000Z"
         *     }
         */
        Agent: WithRequired<components["schemas"]["AgentFields"], "hostname" | "ip_address" | "platform" | "os_version" | "agent_version" | "status" | "tags" | "last_seen" | "created_at" | "updated_at">;
        /**
         * AgentEnvelope
         * @description One agent, in the success envelope.
         */
        AgentEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            data: components["schemas"]["Agent"];
            meta: components["schemas"]["Meta"];
        };
        /**
         * AgentReplace
         * @description The whole writable state of an agent. Every writable field is required; optional facts that are
         *     unknown are sent as `null`, and `tags` as `[]`.
         * @example {
         *       "hostname": "web-01.prod.example.com",
         *       "ip_address": "10.0.4.22",
         *       "platform": "linux",
         *       "os_version": "Ubuntu 24.04.1 LTS",
         *       "agent_version": "2.5.0",
         *       "status": "maintenance",
         *       "tags": [
         *         "production",
         *         "web"
         *       ]
         *     }
         */
        AgentReplace: {
            hostname: components["schemas"]["Hostname"];
            ip_address: components["schemas"]["IpAddress"];
            platform: components["schemas"]["Platform"];
            os_version: components["schemas"]["OsVersion"];
            agent_version: components["schemas"]["AgentVersion"];
            status: components["schemas"]["AgentStatus"];
            tags: components["schemas"]["Tags"];
        };
        /**
         * AgentPatch
         * @description A JSON merge patch (RFC 7396): fields present are set, `null` clears an optional fact,
         *     fields left out stay as they are. An empty patch changes nothing.
         * @example {
         *       "status": "maintenance",
         *       "tags": [
         *         "production",
         *         "web",
         *         "draining"
         *       ]
         *     }
         */
        AgentPatch: {
            hostname?: components["schemas"]["Hostname"];
            ip_address?: components["schemas"]["IpAddress"];
            platform?: components["schemas"]["Platform"];
            os_version?: components["schemas"]["OsVersion"];
            agent_version?: components["schemas"]["AgentVersion"];
            status?: components["schemas"]["AgentStatus"];
            tags?: components["schemas"]["Tags"];
        };
        /**
         * VersionInfo
         * @description What is running.
         * @example {
         *       "name": "opsdeck",
         *       "version": "0.1.0",
         *       "api_version": "1.0.0",
         *       "node_version": "v24.21.0",
         *       "database": "postgresql",
         *       "started_at": "2026-11-21T06:00:00.000Z"
         *     }
         */
        VersionInfo: {
            /**
             * @description The product.
             * @constant
             */
            name: "opsdeck";
            /**
             * @description The server's release (package version).
             * @example 0.1.0
             */
            version: string;
            /**
             * @description The contract's version (the spec's `info.version`).
             * @example 1.0.0
             */
            api_version: string;
            /**
             * @description The Node.js runtime.
             * @example v24.21.0
             */
            node_version: string;
            /**
             * @description Which database backend serves this process.
             * @example postgresql
             * @enum {string}
             */
            database: "postgresql" | "pglite";
            /**
             * Format: date-time
             * @description When this process started (RFC 3339, UTC).
             * @example 2026-11-21T06:00:00.000Z
             */
            started_at: string;
        };
        /**
         * VersionEnvelope
         * @description Version information, in the success envelope.
         */
        VersionEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            data: components["schemas"]["VersionInfo"];
            meta: components["schemas"]["Meta"];
        };
        /**
         * HealthCheck
         * @description The state of one dependency.
         * @example {
         *       "name": "database",
         *       "status": "ok",
         *       "latency_ms": 2,
         *       "detail": "postgresql"
         *     }
         */
        HealthCheck: {
            /**
             * @description The dependency.
             * @example database
             * @enum {string}
             */
            name: "database" | "redis" | "shutdown";
            /**
             * @description `ok`, or `unavailable` when it did not answer in time.
             * @example ok
             * @enum {string}
             */
            status: "ok" | "unavailable";
            /**
             * @description How long the check took, in milliseconds.
             * @example 2
             */
            latency_ms?: number;
            /**
             * @description Which backend answered (`postgresql`, `pglite`, `redis`, `in-process`), or why it failed.
             * @example postgresql
             */
            detail?: string;
        };
        /**
         * Health
         * @description Whether this server process can serve, and the state of each dependency it needs.
         * @example {
         *       "status": "ok",
         *       "checks": [
         *         {
         *           "name": "database",
         *           "status": "ok",
         *           "latency_ms": 2,
         *           "detail": "postgresql"
         *         },
         *         {
         *           "name": "redis",
         *           "status": "ok",
         *           "latency_ms": 1,
         *           "detail": "redis"
         *         }
         *       ]
         *     }
         */
        Health: {
            /**
             * @description `ok` when every check passed, else `unavailable`.
             * @example ok
             * @enum {string}
             */
            status: "ok" | "unavailable";
            /** @description One entry per dependency checked (none for liveness). */
            checks: components["schemas"]["HealthCheck"][];
        };
        /**
         * HealthEnvelope
         * @description A health report, in the success envelope. A failing readiness check answers 503 with this same body.
         */
        HealthEnvelope: {
            /** @description `true` when the process is healthy, `false` when a check failed. */
            success: boolean;
            data: components["schemas"]["Health"];
            meta: components["schemas"]["Meta"];
        };
    };
    responses: {
        /** @description The request is malformed: a parameter is unknown or invalid, or the body is not valid JSON. */
        BadRequest: {
            headers: {
                "X-Request-ID": components["headers"]["XRequestId"];
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["ErrorEnvelope"];
            };
        };
        /** @description An unexpected error. Nothing internal is revealed; the request id finds it in the logs. */
        InternalError: {
            headers: {
                "X-Request-ID": components["headers"]["XRequestId"];
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["ErrorEnvelope"];
            };
        };
        /** @description A dependency does not answer or the server is shutting down; retry later. */
        ServiceUnavailable: {
            headers: {
                "X-Request-ID": components["headers"]["XRequestId"];
                /**
                 * @description Seconds to wait before retrying.
                 * @example 5
                 */
                "Retry-After"?: number;
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["ErrorEnvelope"];
            };
        };
        /** @description The change conflicts with the current state, for example a duplicate unique key. */
        Conflict: {
            headers: {
                "X-Request-ID": components["headers"]["XRequestId"];
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["ErrorEnvelope"];
            };
        };
        /** @description The body is larger than the server accepts. */
        PayloadTooLarge: {
            headers: {
                "X-Request-ID": components["headers"]["XRequestId"];
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["ErrorEnvelope"];
            };
        };
        /** @description The body's Content-Type is not one this operation accepts. */
        UnsupportedMediaType: {
            headers: {
                "X-Request-ID": components["headers"]["XRequestId"];
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["ErrorEnvelope"];
            };
        };
        /** @description The body is well-formed JSON but breaks the schema; details name each field. */
        UnprocessableEntity: {
            headers: {
                "X-Request-ID": components["headers"]["XRequestId"];
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["ErrorEnvelope"];
            };
        };
        /** @description No such resource, or none the caller may see. */
        NotFound: {
            headers: {
                "X-Request-ID": components["headers"]["XRequestId"];
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["ErrorEnvelope"];
            };
        };
    };
    parameters: {
        /**
         * @description How many items a page holds.
         * @example 50
         */
        Limit: number;
        /**
         * @description How many items to skip (offset mode). Not allowed together with `cursor`.
         * @example 100
         */
        Offset: number;
        /**
         * @description Switches the list to cursor mode. Send an empty value for the first page, then the previous page's
         *     `pagination.next_cursor`. A cursor is only valid with the `sort` and filters it was made with.
         * @example eyJrIjpbIjIwMjYtMTEtMDJUMDg6MTU6MDAuMDAwWiJdLCJpZCI6IjAxOTJmMGMxIn0
         */
        Cursor: string;
        /**
         * @description Order of the list: comma-separated `field:direction` pairs, most significant first. Sortable fields:
         *     `hostname`, `status`, `platform`, `last_seen`, `created_at`, `updated_at`; directions `asc` and `desc`.
         *     Ties are broken by `id`. Default `created_at:desc`.
         * @example last_seen:desc,hostname:asc
         */
        AgentSort: string;
        /**
         * @description Trims every item to these fields (comma-separated); `id` is always kept.
         * @example [
         *       "id",
         *       "hostname",
         *       "status"
         *     ]
         */
        AgentFieldsParam: ("id" | "hostname" | "ip_address" | "platform" | "os_version" | "agent_version" | "status" | "tags" | "last_seen" | "created_at" | "updated_at")[];
        /**
         * @description Only agents in this status.
         * @example online
         */
        AgentStatusFilter: components["schemas"]["AgentStatus"];
        /**
         * @description Only agents of this platform.
         * @example linux
         */
        PlatformFilter: components["schemas"]["Platform"];
        /**
         * @description Only agents whose hostname contains this text (any case) or whose address starts with it.
         * @example web-
         */
        AgentSearch: string;
        /**
         * @description Only items created at or after this time (RFC 3339).
         * @example 2026-11-01T00:00:00Z
         */
        CreatedAfter: string;
        /**
         * @description Only items created before this time (RFC 3339).
         * @example 2026-12-01T00:00:00Z
         */
        CreatedBefore: string;
        /**
         * @description The agent's id.
         * @example 0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d
         */
        AgentId: string;
    };
    requestBodies: never;
    headers: {
        /**
         * @description The request's id: the caller's own `X-Request-ID` when it is a sane token (at most 128 characters of
         *     `A-Z a-z 0-9 . _ -`), else one the server made. It is in `meta.request_id` and in every log line.
         * @example req_01J9Y4V8QK6M2T3N7W5X0Z1A2B
         */
        XRequestId: string;
        /**
         * @description The pagination links (RFC 8288) with `rel` `first`, `prev`, `next` and `last` where they exist.
         * @example </api/v1/agents?status=online&limit=2&offset=0>; rel="first", </api/v1/agents?status=online&limit=2&offset=0>; rel="prev", </api/v1/agents?status=online&limit=2&offset=4>; rel="next", </api/v1/agents?status=online&limit=2&offset=4>; rel="last"
         */
        Link: string;
        /**
         * @description The path of the resource that was created.
         * @example /api/v1/agents/0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d
         */
        Location: string;
    };
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    listAgents: {
        parameters: {
            query?: {
                /**
                 * @description How many items a page holds.
                 * @example 50
                 */
                limit?: components["parameters"]["Limit"];
                /**
                 * @description How many items to skip (offset mode). Not allowed together with `cursor`.
                 * @example 100
                 */
                offset?: components["parameters"]["Offset"];
                /**
                 * @description Switches the list to cursor mode. Send an empty value for the first page, then the previous page's
                 *     `pagination.next_cursor`. A cursor is only valid with the `sort` and filters it was made with.
                 * @example eyJrIjpbIjIwMjYtMTEtMDJUMDg6MTU6MDAuMDAwWiJdLCJpZCI6IjAxOTJmMGMxIn0
                 */
                cursor?: components["parameters"]["Cursor"];
                /**
                 * @description Order of the list: comma-separated `field:direction` pairs, most significant first. Sortable fields:
                 *     `hostname`, `status`, `platform`, `last_seen`, `created_at`, `updated_at`; directions `asc` and `desc`.
                 *     Ties are broken by `id`. Default `created_at:desc`.
                 * @example last_seen:desc,hostname:asc
                 */
                sort?: components["parameters"]["AgentSort"];
                /**
                 * @description Trims every item to these fields (comma-separated); `id` is always kept.
                 * @example [
                 *       "id",
                 *       "hostname",
                 *       "status"
                 *     ]
                 */
                fields?: components["parameters"]["AgentFieldsParam"];
                /**
                 * @description Only agents in this status.
                 * @example online
                 */
                status?: components["parameters"]["AgentStatusFilter"];
                /**
                 * @description Only agents of this platform.
                 * @example linux
                 */
                platform?: components["parameters"]["PlatformFilter"];
                /**
                 * @description Only agents whose hostname contains this text (any case) or whose address starts with it.
                 * @example web-
                 */
                search?: components["parameters"]["AgentSearch"];
                /**
                 * @description Only items created at or after this time (RFC 3339).
                 * @example 2026-11-01T00:00:00Z
                 */
                created_after?: components["parameters"]["CreatedAfter"];
                /**
                 * @description Only items created before this time (RFC 3339).
                 * @example 2026-12-01T00:00:00Z
                 */
                created_before?: components["parameters"]["CreatedBefore"];
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of agents. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    Link: components["headers"]["Link"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AgentListEnvelope"];
                };
            };
            400: components["responses"]["BadRequest"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    createAgent: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description The new agent. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["AgentCreate"];
            };
        };
        responses: {
            /** @description The agent was created; `Location` is its path. */
            201: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    Location: components["headers"]["Location"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AgentEnvelope"];
                };
            };
            400: components["responses"]["BadRequest"];
            409: components["responses"]["Conflict"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            422: components["responses"]["UnprocessableEntity"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    getAgent: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The agent's id.
                 * @example 0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d
                 */
                agent_id: components["parameters"]["AgentId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The agent. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AgentEnvelope"];
                };
            };
            400: components["responses"]["BadRequest"];
            404: components["responses"]["NotFound"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    replaceAgent: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The agent's id.
                 * @example 0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d
                 */
                agent_id: components["parameters"]["AgentId"];
            };
            cookie?: never;
        };
        /** @description The agent's whole writable state. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["AgentReplace"];
            };
        };
        responses: {
            /** @description The agent as it now is. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AgentEnvelope"];
                };
            };
            400: components["responses"]["BadRequest"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            422: components["responses"]["UnprocessableEntity"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    deleteAgent: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The agent's id.
                 * @example 0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d
                 */
                agent_id: components["parameters"]["AgentId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The agent was deleted. */
            204: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            400: components["responses"]["BadRequest"];
            404: components["responses"]["NotFound"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    updateAgent: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The agent's id.
                 * @example 0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d
                 */
                agent_id: components["parameters"]["AgentId"];
            };
            cookie?: never;
        };
        /** @description The fields to change. */
        requestBody: {
            content: {
                "application/merge-patch+json": components["schemas"]["AgentPatch"];
                "application/json": components["schemas"]["AgentPatch"];
            };
        };
        responses: {
            /** @description The agent as it now is. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AgentEnvelope"];
                };
            };
            400: components["responses"]["BadRequest"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            422: components["responses"]["UnprocessableEntity"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    getSystemVersion: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Version information. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["VersionEnvelope"];
                };
            };
            400: components["responses"]["BadRequest"];
            500: components["responses"]["InternalError"];
        };
    };
    getLiveness: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The process is alive. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["HealthEnvelope"];
                };
            };
            400: components["responses"]["BadRequest"];
            500: components["responses"]["InternalError"];
        };
    };
    getReadiness: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Ready to serve. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["HealthEnvelope"];
                };
            };
            400: components["responses"]["BadRequest"];
            500: components["responses"]["InternalError"];
            /** @description Not ready; `checks` says which dependency failed. */
            503: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["HealthEnvelope"];
                };
            };
        };
    };
}
type WithRequired<T, K extends keyof T> = T & {
    [P in K]-?: T[P];
};
