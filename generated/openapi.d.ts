// GENERATED from spec/ by `npm run generate`. Do not edit: change spec/ and regenerate.
export interface paths {
    "/api/v1/auth/login": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Log in
         * @description Exchanges an email and password for a short-lived access token and a refresh token. Failed attempts are throttled per account and per client (`x-login-throttle`); the answer does not say whether the email exists.
         */
        post: operations["login"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/auth/refresh": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Refresh tokens
         * @description Exchanges a refresh token for a new pair; the old refresh token is spent. Presenting a spent refresh token again revokes every token of its family (it was stolen or replayed) and answers 401.
         */
        post: operations["refreshToken"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/auth/logout": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Log out
         * @description Revokes the refresh token and its whole family. The access token stays valid until it expires (at most `expires_in` seconds).
         */
        post: operations["logout"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/auth/profile": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Get my profile
         * @description The signed-in user.
         */
        get: operations["getProfile"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        /**
         * Update my profile
         * @description Changes the caller's own name. Role, email and activity can only be changed by an administrator (`updateUser`); sending them is refused with 422.
         */
        patch: operations["updateProfile"];
        trace?: never;
    };
    "/api/v1/auth/password": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Change my password
         * @description Sets a new password after checking the current one, and signs out every session of the user (all refresh tokens are revoked).
         */
        post: operations["changePassword"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/api-keys": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List my API keys
         * @description The caller's API keys, newest first, without their secrets.
         */
        get: operations["listApiKeys"];
        put?: never;
        /**
         * Create an API key
         * @description Creates an API key for a machine client and shows its secret once. Its scopes can only narrow the caller's own permissions: a scope the caller's role does not grant is refused with 422.
         */
        post: operations["createApiKey"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/api-keys/{api_key_id}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The API key's id.
                 * @example 0192f0e3-4b5c-7d6e-9f00-112233445566
                 */
                api_key_id: components["parameters"]["ApiKeyId"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /**
         * Revoke an API key
         * @description Revokes one of the caller's API keys at once.
         */
        delete: operations["deleteApiKey"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/teams": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List teams
         * @description The teams the caller belongs to (administrators with `admin:teams` see every team).
         */
        get: operations["listTeams"];
        put?: never;
        /**
         * Create a team
         * @description Creates a team; the caller becomes its first member.
         */
        post: operations["createTeam"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/teams/{team_id}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The team's id.
                 * @example 0192f0a0-0000-7000-8000-00000000000a
                 */
                team_id: components["parameters"]["TeamId"];
            };
            cookie?: never;
        };
        /**
         * Get a team
         * @description One of the caller's teams.
         */
        get: operations["getTeam"];
        put?: never;
        post?: never;
        /**
         * Delete a team
         * @description Deletes one of the caller's teams. A team that still owns resources is refused with 409.
         */
        delete: operations["deleteTeam"];
        options?: never;
        head?: never;
        /**
         * Update a team
         * @description Renames or re-describes one of the caller's teams (JSON merge patch).
         */
        patch: operations["updateTeam"];
        trace?: never;
    };
    "/api/v1/teams/{team_id}/members": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The team's id.
                 * @example 0192f0a0-0000-7000-8000-00000000000a
                 */
                team_id: components["parameters"]["TeamId"];
            };
            cookie?: never;
        };
        /**
         * List team members
         * @description The members of one of the caller's teams.
         */
        get: operations["listTeamMembers"];
        put?: never;
        /**
         * Add a team member
         * @description Adds a user to one of the caller's teams.
         */
        post: operations["addTeamMember"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/teams/{team_id}/members/{user_id}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The team's id.
                 * @example 0192f0a0-0000-7000-8000-00000000000a
                 */
                team_id: components["parameters"]["TeamId"];
                /**
                 * @description The user's id.
                 * @example 0192f0d2-1a2b-7c3d-8e4f-5a6b7c8d9e0f
                 */
                user_id: components["parameters"]["UserId"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /**
         * Remove a team member
         * @description Removes a user from one of the caller's teams.
         */
        delete: operations["removeTeamMember"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/admin/users": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List users
         * @description Every user, for administrators.
         */
        get: operations["listUsers"];
        put?: never;
        /**
         * Create a user
         * @description Creates a user. Without a password, a one-time password is generated and shown once.
         */
        post: operations["createUser"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/admin/users/{user_id}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The user's id.
                 * @example 0192f0d2-1a2b-7c3d-8e4f-5a6b7c8d9e0f
                 */
                user_id: components["parameters"]["UserId"];
            };
            cookie?: never;
        };
        /**
         * Get a user
         * @description One user, for administrators.
         */
        get: operations["getUser"];
        put?: never;
        post?: never;
        /**
         * Delete a user
         * @description Deletes a user, its memberships, sessions and API keys. An administrator cannot delete itself (409).
         */
        delete: operations["deleteUser"];
        options?: never;
        head?: never;
        /**
         * Update a user
         * @description Changes a user's name, role or activity (JSON merge patch). Deactivating a user signs it out everywhere. An administrator cannot demote or deactivate itself (409), so one always remains.
         */
        patch: operations["updateUser"];
        trace?: never;
    };
    "/api/v1/admin/roles": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List roles
         * @description Every role and the permissions it grants, as the contract defines them.
         */
        get: operations["listRoles"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/admin/audit": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List audit events
         * @description Every mutating request (POST, PUT, PATCH, DELETE) with its actor, operation, target, request id, outcome and time, newest first.
         */
        get: operations["listAuditEvents"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
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
         * @description Registers a host with one of the caller's teams. Its hostname must not be taken in that team (regardless
         *     of case). `team_id` may be left out when the caller belongs to exactly one team.
         */
        post: operations["createAgent"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/agents/summary": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Summarise agents
         * @description Counts the agents of the caller's teams (or of one, with `team_id`) by status and by platform. The counts are cached and invalidated by every change to those agents, so they are never stale.
         */
        get: operations["getAgentSummary"];
        put?: never;
        post?: never;
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
    "/api/v1/agents/{agent_id}/actions/reboot": {
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
        get?: never;
        put?: never;
        /**
         * Reboot an agent
         * @description Queues a reboot of the host. An offline agent is refused with 409 BIZ_AGENT_OFFLINE unless `queue_if_offline` asks to run it when the agent returns.
         */
        post: operations["rebootAgent"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/agents/{agent_id}/actions/shutdown": {
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
        get?: never;
        put?: never;
        /**
         * Shut an agent down
         * @description Queues a shutdown of the host; the same rules as a reboot.
         */
        post: operations["shutdownAgent"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/agents/{agent_id}/actions/update-agent": {
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
        get?: never;
        put?: never;
        /**
         * Update the agent software
         * @description Queues an update of the Opsdeck agent on the host to `version`.
         */
        post: operations["updateAgentSoftware"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/agents/{agent_id}/actions/command": {
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
        get?: never;
        put?: never;
        /**
         * Run a command on an agent
         * @description Queues one program with arguments (no shell) on the host; its exit code and the end of its output become the task's result.
         */
        post: operations["runAgentCommand"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/tasks": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List tasks
         * @description The tasks of the caller's teams, newest first.
         */
        get: operations["listTasks"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/tasks/{task_id}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The task's id.
                 * @example 0192f1a0-1b2c-7d3e-8f40-5a6b7c8d9e0f
                 */
                task_id: components["parameters"]["TaskId"];
            };
            cookie?: never;
        };
        /**
         * Get a task
         * @description One task: its status, progress, ETA, result and error.
         */
        get: operations["getTask"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/tasks/{task_id}/logs": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The task's id.
                 * @example 0192f1a0-1b2c-7d3e-8f40-5a6b7c8d9e0f
                 */
                task_id: components["parameters"]["TaskId"];
            };
            cookie?: never;
        };
        /**
         * List task log lines
         * @description The lines the task's agent reported, in order.
         */
        get: operations["listTaskLogs"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/tasks/{task_id}/cancel": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The task's id.
                 * @example 0192f1a0-1b2c-7d3e-8f40-5a6b7c8d9e0f
                 */
                task_id: components["parameters"]["TaskId"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Cancel a task
         * @description Cancels a pending or running task (a running agent learns it at its next report). A finished task is refused with 409 BIZ_TASK_FINISHED.
         */
        post: operations["cancelTask"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/tasks/{task_id}/retry": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The task's id.
                 * @example 0192f1a0-1b2c-7d3e-8f40-5a6b7c8d9e0f
                 */
                task_id: components["parameters"]["TaskId"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Retry a task
         * @description Queues a new task with the same type and parameters as a failed or cancelled one. A pending or running task is refused with 409 BIZ_TASK_ALREADY_RUNNING, a succeeded one with 409 BIZ_TASK_NOT_RETRYABLE.
         */
        post: operations["retryTask"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/teams/{team_id}/enrollment-tokens": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The team's id.
                 * @example 0192f0a0-0000-7000-8000-00000000000a
                 */
                team_id: components["parameters"]["TeamId"];
            };
            cookie?: never;
        };
        /**
         * List enrollment tokens
         * @description The team's enrollment tokens, without their secrets.
         */
        get: operations["listEnrollmentTokens"];
        put?: never;
        /**
         * Create an enrollment token
         * @description Creates a token with which hosts enrol into the team; its secret is shown once.
         */
        post: operations["createEnrollmentToken"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/teams/{team_id}/enrollment-tokens/{token_id}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The team's id.
                 * @example 0192f0a0-0000-7000-8000-00000000000a
                 */
                team_id: components["parameters"]["TeamId"];
                /**
                 * @description The enrollment token's id.
                 * @example 0192f1b0-2c3d-7e4f-8a50-6b7c8d9e0f1a
                 */
                token_id: components["parameters"]["EnrollmentTokenId"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /**
         * Revoke an enrollment token
         * @description Revokes the token; hosts enrolled with it stay enrolled.
         */
        delete: operations["deleteEnrollmentToken"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/agent/enroll": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Enrol a host
         * @description A host joins the fleet of the team whose enrollment token it presents, and receives its own agent key (shown once). A host that enrols again under the same hostname gets a new key for the same agent.
         */
        post: operations["enrollAgent"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/agent/heartbeat": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Heartbeat
         * @description The agent says it is alive: `last_seen` is now and it is `online` (unless in maintenance). An agent silent for longer than the heartbeat timeout turns `offline` and its running tasks fail.
         */
        post: operations["agentHeartbeat"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/agent/tasks/claim": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Claim tasks
         * @description Hands the agent up to `max_tasks` of its pending tasks, oldest first, and marks them running. Row locks (`FOR UPDATE SKIP LOCKED`) make every task go to exactly one claim, even across server processes.
         */
        post: operations["claimTasks"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/agent/tasks/{task_id}/progress": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The task's id.
                 * @example 0192f1a0-1b2c-7d3e-8f40-5a6b7c8d9e0f
                 */
                task_id: components["parameters"]["TaskId"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Report task progress
         * @description The agent reports progress, log lines, and finally the outcome of a task it claimed. A task that was cancelled meanwhile answers 409 BIZ_TASK_FINISHED: the agent should stop it.
         */
        post: operations["reportTaskProgress"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
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
         * Email
         * Format: email
         * @description An email address, compared regardless of case.
         * @example ada@example.com
         */
        Email: string;
        /**
         * LoginRequest
         * @description Credentials of a user.
         * @example {
         *       "email": "ada@example.com",
         *       "password": "correct-horse-battery-staple"
         *     }
         */
        LoginRequest: {
            email: components["schemas"]["Email"];
            /**
             * @description The user's password.
             * @example correct-horse-battery-staple
             */
            password: string;
        };
        /**
         * TokenPair
         * @description A short-lived access token (a JWT for `Authorization: Bearer`) and a refresh token.
         * @example {
         *       "access_token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIwMTkyZjBkMiJ9.c2lnbmF0dXJl",
         *       "refresh_token": "ort_01J9Y4V8QK6M2T3N7W5X0Z1A2B.hP3kq9VtL0mZ2xW8yR4sN6dF1gH5jK7c",
         *       "token_type": "Bearer",
         *       "expires_in": 900
         *     }
         */
        TokenPair: {
            /**
             * @description Sent as `Authorization: Bearer <access_token>`.
             * @example eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIwMTkyZjBkMiJ9.c2lnbmF0dXJl
             */
            access_token: string;
            /**
             * @description Exchanged once at `refreshToken` for a new pair; keep it secret.
             * @example ort_01J9Y4V8QK6M2T3N7W5X0Z1A2B.hP3kq9VtL0mZ2xW8yR4sN6dF1gH5jK7c
             */
            refresh_token: string;
            /**
             * @description Always `Bearer`.
             * @constant
             */
            token_type: "Bearer";
            /**
             * Format: int32
             * @description Seconds until the access token expires.
             * @example 900
             */
            expires_in: number;
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
             * Format: int32
             * @description Time the server spent on the request, in milliseconds.
             * @example 4
             */
            execution_time_ms?: number;
        };
        /**
         * TokenPairEnvelope
         * @description A token pair, in the success envelope.
         */
        TokenPairEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            data: components["schemas"]["TokenPair"];
            meta: components["schemas"]["Meta"];
        };
        /**
         * ErrorCode
         * @description A stable, machine-readable error code. Each code is always answered with the same HTTP status
         *     (`x-http-status`); its meaning never changes once published. Clients branch on the code, not on the message.
         * @example RES_NOT_FOUND
         */
        ErrorCode: string & ("AUTH_REQUIRED" | "AUTH_INVALID_TOKEN" | "AUTH_EXPIRED_TOKEN" | "AUTH_INVALID_CREDENTIALS" | "PERM_DENIED" | "VAL_MALFORMED_REQUEST" | "VAL_INVALID_PARAMETER" | "VAL_ERROR" | "VAL_MULTIPLE_ERRORS" | "VAL_REQUIRED_FIELD" | "VAL_INVALID_FORMAT" | "VAL_PAYLOAD_TOO_LARGE" | "VAL_UNSUPPORTED_MEDIA_TYPE" | "RES_NOT_FOUND" | "RES_METHOD_NOT_ALLOWED" | "RES_ALREADY_EXISTS" | "RES_CONFLICT" | "RES_IDEMPOTENCY_IN_FLIGHT" | "VAL_IDEMPOTENCY_KEY_REUSED" | "RES_PRECONDITION_FAILED" | "BIZ_AGENT_OFFLINE" | "BIZ_TASK_ALREADY_RUNNING" | "BIZ_TASK_FINISHED" | "BIZ_TASK_NOT_RETRYABLE" | "RATE_LIMIT_EXCEEDED" | "RATE_QUOTA_EXCEEDED" | "SYS_INTERNAL_ERROR" | "EXT_DATABASE_ERROR" | "EXT_SERVICE_UNAVAILABLE" | "SYS_MAINTENANCE");
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
         * RefreshRequest
         * @description A refresh token, exchanged once for a new pair. Presenting a used one revokes its whole family.
         * @example {
         *       "refresh_token": "ort_01J9Y4V8QK6M2T3N7W5X0Z1A2B.hP3kq9VtL0mZ2xW8yR4sN6dF1gH5jK7c"
         *     }
         */
        RefreshRequest: {
            /**
             * @description The refresh token from the last login or refresh.
             * @example ort_01J9Y4V8QK6M2T3N7W5X0Z1A2B.hP3kq9VtL0mZ2xW8yR4sN6dF1gH5jK7c
             */
            refresh_token: string;
        };
        /**
         * PersonName
         * @description A person's display name.
         * @example Ada Lovelace
         */
        PersonName: string;
        /**
         * RoleName
         * @description A role; each grants a fixed set of permissions (see `listRoles`).
         * @example operator
         * @enum {string}
         */
        RoleName: "admin" | "operator" | "viewer";
        /**
         * User
         * @description A person who can sign in.
         * @example {
         *       "id": "0192f0d2-1a2b-7c3d-8e4f-5a6b7c8d9e0f",
         *       "email": "ada@example.com",
         *       "name": "Ada Lovelace",
         *       "role": "operator",
         *       "rate_tier": "standard",
         *       "active": true,
         *       "created_at": "2026-11-02T08:00:00.000Z",
         *       "updated_at": "2026-11-20T12:00:00.000Z"
         *     }
         */
        User: {
            /**
             * Format: uuid
             * @description The user's id (UUIDv7).
             * @example 0192f0d2-1a2b-7c3d-8e4f-5a6b7c8d9e0f
             */
            readonly id: string;
            email: components["schemas"]["Email"];
            name: components["schemas"]["PersonName"];
            role: components["schemas"]["RoleName"];
            /**
             * @description The rate-limit tier of the user and its API keys: `standard` (the authenticated tier) or `premium`. Administrators always have the admin tier.
             * @example standard
             * @enum {string}
             */
            rate_tier: "standard" | "premium";
            /**
             * @description Whether the user may sign in; a deactivated user's tokens and API keys stop working.
             * @example true
             */
            active: boolean;
            /**
             * Format: date-time
             * @description When the user was created (RFC 3339, UTC).
             * @example 2026-11-02T08:00:00.000Z
             */
            readonly created_at: string;
            /**
             * Format: date-time
             * @description When the user was last changed (RFC 3339, UTC).
             * @example 2026-11-20T12:00:00.000Z
             */
            readonly updated_at: string;
        };
        /**
         * UserEnvelope
         * @description A user, in the success envelope.
         */
        UserEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            data: components["schemas"]["User"];
            meta: components["schemas"]["Meta"];
        };
        /**
         * ProfilePatch
         * @description The fields a user may change about itself. Role, email and activity are for administrators.
         * @example {
         *       "name": "Ada King"
         *     }
         */
        ProfilePatch: {
            name?: components["schemas"]["PersonName"];
        };
        /**
         * Password
         * @description A password of 12 to 128 characters. It is stored only as an argon2id hash.
         * @example correct-horse-battery-staple
         */
        Password: string;
        /**
         * PasswordChange
         * @description A new password, proven by the current one. Every session of the user is signed out.
         * @example {
         *       "current_password": "correct-horse-battery-staple",
         *       "new_password": "purple-monkey-dishwasher-42"
         *     }
         */
        PasswordChange: {
            /**
             * @description The password in use now.
             * @example correct-horse-battery-staple
             */
            current_password: string;
            new_password: components["schemas"]["Password"];
        };
        /**
         * Permission
         * @description A permission an operation can require; roles and API key scopes are sets of them.
         * @example agents:read
         * @enum {string}
         */
        Permission: "agents:read" | "agents:write" | "teams:read" | "teams:write" | "profile:read" | "profile:write" | "apikeys:read" | "apikeys:write" | "admin:users" | "admin:teams" | "admin:audit" | "tasks:read" | "tasks:execute" | "agent:self";
        /**
         * ApiKey
         * @description An API key for a machine client. Its secret is never shown again after creation.
         * @example {
         *       "id": "0192f0e3-4b5c-7d6e-9f00-112233445566",
         *       "name": "ci-pipeline",
         *       "prefix": "opk_7Hq2LmX9",
         *       "scopes": [
         *         "agents:read"
         *       ],
         *       "created_at": "2026-11-10T09:00:00.000Z",
         *       "last_used_at": "2026-11-21T10:29:00.000Z",
         *       "expires_at": null
         *     }
         */
        ApiKey: {
            /**
             * Format: uuid
             * @description The key's id (UUIDv7).
             * @example 0192f0e3-4b5c-7d6e-9f00-112233445566
             */
            readonly id: string;
            /**
             * @description What the key is for.
             * @example ci-pipeline
             */
            name: string;
            /**
             * @description The start of the key, to recognise it (`opk_…`).
             * @example opk_7Hq2LmX9
             */
            prefix: string;
            /** @description The permissions the key carries; never more than its owner's role grants. */
            scopes: components["schemas"]["Permission"][];
            /**
             * Format: date-time
             * @description When the key was created (RFC 3339, UTC).
             * @example 2026-11-10T09:00:00.000Z
             */
            created_at: string;
            /**
             * Format: date-time
             * @description When the key was last used (to the minute), or `null`.
             * @example 2026-11-21T10:29:00.000Z
             */
            last_used_at: string | null;
            /**
             * Format: date-time
             * @description When the key stops working, or `null` for never.
             * @example 2027-11-10T09:00:00.000Z
             */
            expires_at: string | null;
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
             * Format: int32
             * @description The page number, from 1 (`offset / limit + 1`).
             * @example 2
             */
            page: number;
            /**
             * Format: int32
             * @description The `limit` in force.
             * @example 50
             */
            per_page: number;
            /**
             * Format: int64
             * @description How many items match the filters.
             * @example 247
             */
            total: number;
            /**
             * Format: int64
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
             * Format: int32
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
         * ApiKeyListEnvelope
         * @description A page of API keys, in the success envelope.
         */
        ApiKeyListEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            /** @description The API keys of this page. */
            data: components["schemas"]["ApiKey"][];
            meta: components["schemas"]["Meta"];
            pagination: components["schemas"]["Pagination"];
        };
        /**
         * ApiKeyCreate
         * @description A new API key. Its scopes must be permissions the caller's role grants.
         * @example {
         *       "name": "ci-pipeline",
         *       "scopes": [
         *         "agents:read"
         *       ]
         *     }
         */
        ApiKeyCreate: {
            /**
             * @description What the key is for.
             * @example ci-pipeline
             */
            name: string;
            /** @description The permissions the key carries. */
            scopes: components["schemas"]["Permission"][];
            /**
             * Format: date-time
             * @description When the key stops working; omit for never.
             * @example 2027-11-10T09:00:00Z
             */
            expires_at?: string;
        };
        /**
         * ApiKeyCreated
         * @description A new API key with its secret, shown this once.
         * @example {
         *       "id": "0192f0e3-4b5c-7d6e-9f00-112233445566",
         *       "name": "ci-pipeline",
         *       "prefix": "opk_7Hq2LmX9",
         *       "scopes": [
         *         "agents:read"
         *       ],
         *       "created_at": "2026-11-21T10:30:00.000Z",
         *       "last_used_at": null,
         *       "expires_at": null,
         *       "secret": "opk_7Hq2LmX9_Zr4pQ8vN1tY6wK3mB0cX5dF2gH9jL7sA"
         *     }
         */
        ApiKeyCreated: components["schemas"]["ApiKey"] & {
            /**
             * @description The whole key, for the `X-API-Key` header. Store it now; it cannot be shown again.
             * @example opk_7Hq2LmX9_Zr4pQ8vN1tY6wK3mB0cX5dF2gH9jL7sA
             */
            secret: string;
        };
        /**
         * ApiKeyCreatedEnvelope
         * @description A new API key with its secret, in the success envelope.
         */
        ApiKeyCreatedEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            data: components["schemas"]["ApiKeyCreated"];
            meta: components["schemas"]["Meta"];
        };
        /**
         * TeamName
         * @description A team's name, unique regardless of case.
         * @example Platform
         */
        TeamName: string;
        /**
         * Team
         * @description A team owns resources (agents and everything after them); its members see and change only its resources.
         * @example {
         *       "id": "0192f0a0-0000-7000-8000-00000000000a",
         *       "name": "Platform",
         *       "description": "Runs the shared Kubernetes clusters.",
         *       "member_count": 7,
         *       "created_at": "2026-11-01T09:00:00.000Z",
         *       "updated_at": "2026-11-15T16:20:00.000Z"
         *     }
         */
        Team: {
            /**
             * Format: uuid
             * @description The team's id (UUIDv7).
             * @example 0192f0a0-0000-7000-8000-00000000000a
             */
            readonly id: string;
            name: components["schemas"]["TeamName"];
            /**
             * @description What the team does, or `null`.
             * @example Runs the shared Kubernetes clusters.
             */
            description: string | null;
            /**
             * Format: int32
             * @description How many users belong to the team.
             * @example 7
             */
            readonly member_count: number;
            /**
             * Format: date-time
             * @description When the team was created (RFC 3339, UTC).
             * @example 2026-11-01T09:00:00.000Z
             */
            readonly created_at: string;
            /**
             * Format: date-time
             * @description When the team was last changed (RFC 3339, UTC).
             * @example 2026-11-15T16:20:00.000Z
             */
            readonly updated_at: string;
        };
        /**
         * TeamListEnvelope
         * @description A page of teams, in the success envelope.
         */
        TeamListEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            /** @description The teams of this page. */
            data: components["schemas"]["Team"][];
            meta: components["schemas"]["Meta"];
            pagination: components["schemas"]["Pagination"];
        };
        /**
         * TeamCreate
         * @description A new team; its creator becomes its first member.
         * @example {
         *       "name": "Platform",
         *       "description": "Runs the shared Kubernetes clusters."
         *     }
         */
        TeamCreate: {
            name: components["schemas"]["TeamName"];
            /**
             * @description What the team does.
             * @example Runs the shared Kubernetes clusters.
             */
            description?: string | null;
        };
        /**
         * TeamEnvelope
         * @description A team, in the success envelope.
         */
        TeamEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            data: components["schemas"]["Team"];
            meta: components["schemas"]["Meta"];
        };
        /**
         * TeamPatch
         * @description A JSON merge patch of a team.
         * @example {
         *       "description": "Runs the shared clusters and the CI runners."
         *     }
         */
        TeamPatch: {
            name?: components["schemas"]["TeamName"];
            /**
             * @description What the team does, or `null` to clear it.
             * @example Runs the shared clusters and the CI runners.
             */
            description?: string | null;
        };
        /**
         * TeamMember
         * @description A user's membership of a team.
         * @example {
         *       "user_id": "0192f0d2-1a2b-7c3d-8e4f-5a6b7c8d9e0f",
         *       "email": "ada@example.com",
         *       "name": "Ada Lovelace",
         *       "role": "operator",
         *       "joined_at": "2026-11-03T10:00:00.000Z"
         *     }
         */
        TeamMember: {
            /**
             * Format: uuid
             * @description The member's user id.
             * @example 0192f0d2-1a2b-7c3d-8e4f-5a6b7c8d9e0f
             */
            user_id: string;
            email: components["schemas"]["Email"];
            name: components["schemas"]["PersonName"];
            role: components["schemas"]["RoleName"];
            /**
             * Format: date-time
             * @description When the user joined the team (RFC 3339, UTC).
             * @example 2026-11-03T10:00:00.000Z
             */
            joined_at: string;
        };
        /**
         * TeamMemberListEnvelope
         * @description A page of members, in the success envelope.
         */
        TeamMemberListEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            /** @description The members of this page. */
            data: components["schemas"]["TeamMember"][];
            meta: components["schemas"]["Meta"];
            pagination: components["schemas"]["Pagination"];
        };
        /**
         * TeamMemberAdd
         * @description A user to add to the team.
         * @example {
         *       "user_id": "0192f0d2-1a2b-7c3d-8e4f-5a6b7c8d9e0f"
         *     }
         */
        TeamMemberAdd: {
            /**
             * Format: uuid
             * @description The user to add.
             * @example 0192f0d2-1a2b-7c3d-8e4f-5a6b7c8d9e0f
             */
            user_id: string;
        };
        /**
         * TeamMemberEnvelope
         * @description A team membership, in the success envelope.
         */
        TeamMemberEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            data: components["schemas"]["TeamMember"];
            meta: components["schemas"]["Meta"];
        };
        /**
         * UserListEnvelope
         * @description A page of users, in the success envelope.
         */
        UserListEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            /** @description The users of this page. */
            data: components["schemas"]["User"][];
            meta: components["schemas"]["Meta"];
            pagination: components["schemas"]["Pagination"];
        };
        /**
         * UserCreate
         * @description A new user. Without `password`, a one-time password is generated and returned once.
         * @example {
         *       "email": "grace@example.com",
         *       "name": "Grace Hopper",
         *       "role": "viewer"
         *     }
         */
        UserCreate: {
            email: components["schemas"]["Email"];
            name: components["schemas"]["PersonName"];
            role: components["schemas"]["RoleName"];
            /**
             * @description The rate-limit tier (default `standard`) of the user and its API keys: `standard` (the authenticated tier) or `premium`. Administrators always have the admin tier.
             * @example standard
             * @enum {string}
             */
            rate_tier?: "standard" | "premium";
            password?: components["schemas"]["Password"];
        };
        /**
         * UserCreated
         * @description A new user, with the one-time password when the server generated it.
         * @example {
         *       "id": "0192f0d2-1a2b-7c3d-8e4f-5a6b7c8d9e0f",
         *       "email": "grace@example.com",
         *       "name": "Grace Hopper",
         *       "role": "viewer",
         *       "rate_tier": "standard",
         *       "active": true,
         *       "created_at": "2026-11-21T10:30:00.000Z",
         *       "updated_at": "2026-11-21T10:30:00.000Z",
         *       "one_time_password": "Xk3-vT9q-pL2m-Wd7s"
         *     }
         */
        UserCreated: components["schemas"]["User"] & {
            /**
             * @description Shown once, only when no password was given; the user should change it at first sign-in.
             * @example Xk3-vT9q-pL2m-Wd7s
             */
            one_time_password?: string;
        };
        /**
         * UserCreatedEnvelope
         * @description A new user, in the success envelope.
         */
        UserCreatedEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            data: components["schemas"]["UserCreated"];
            meta: components["schemas"]["Meta"];
        };
        /**
         * UserPatch
         * @description A JSON merge patch of a user, for administrators.
         * @example {
         *       "role": "operator"
         *     }
         */
        UserPatch: {
            name?: components["schemas"]["PersonName"];
            role?: components["schemas"]["RoleName"];
            /**
             * @description The rate-limit tier of the user and its API keys: `standard` (the authenticated tier) or `premium`. Administrators always have the admin tier.
             * @example standard
             * @enum {string}
             */
            rate_tier?: "standard" | "premium";
            /**
             * @description `false` deactivates the user and revokes its sessions.
             * @example false
             */
            active?: boolean;
        };
        /**
         * Role
         * @description A role and the permissions it grants.
         * @example {
         *       "name": "viewer",
         *       "description": "Reads the fleet; changes nothing but its own profile and API keys.",
         *       "permissions": [
         *         "agents:read",
         *         "teams:read",
         *         "profile:read",
         *         "profile:write",
         *         "apikeys:read",
         *         "apikeys:write"
         *       ]
         *     }
         */
        Role: {
            name: components["schemas"]["RoleName"];
            /**
             * @description What the role is for.
             * @example Runs the fleet day to day; cannot manage users.
             */
            description: string;
            /** @description Every permission the role grants. */
            permissions: components["schemas"]["Permission"][];
        };
        /**
         * RoleListEnvelope
         * @description All roles, in the success envelope.
         */
        RoleListEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            /** @description The roles. */
            data: components["schemas"]["Role"][];
            meta: components["schemas"]["Meta"];
        };
        /**
         * AuditEvent
         * @description One mutating request, as it was answered.
         * @example {
         *       "id": "0192f0f4-5c6d-7e8f-9a0b-1c2d3e4f5a6b",
         *       "at": "2026-11-21T10:30:00.000Z",
         *       "actor": {
         *         "user_id": "0192f0d2-1a2b-7c3d-8e4f-5a6b7c8d9e0f",
         *         "api_key_id": null,
         *         "email": "ada@example.com"
         *       },
         *       "operation_id": "updateAgent",
         *       "method": "PATCH",
         *       "path": "/api/v1/agents/0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d",
         *       "target_id": "0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d",
         *       "team_id": "0192f0a0-0000-7000-8000-00000000000a",
         *       "request_id": "req_01J9Y4V8QK6M2T3N7W5X0Z1A2B",
         *       "outcome": "success",
         *       "status": 200,
         *       "error_code": null
         *     }
         */
        AuditEvent: {
            /**
             * Format: uuid
             * @description The event's id (UUIDv7).
             * @example 0192f0f4-5c6d-7e8f-9a0b-1c2d3e4f5a6b
             */
            id: string;
            /**
             * Format: date-time
             * @description When the request was answered (RFC 3339, UTC).
             * @example 2026-11-21T10:30:00.000Z
             */
            at: string;
            /** @description Who made the request; `null` fields where it was anonymous. */
            actor: {
                /**
                 * Format: uuid
                 * @description The user, or `null` for an anonymous request.
                 * @example 0192f0d2-1a2b-7c3d-8e4f-5a6b7c8d9e0f
                 */
                user_id: string | null;
                /**
                 * Format: uuid
                 * @description The API key used, or `null` for a user session.
                 * @example null
                 */
                api_key_id: string | null;
                /**
                 * @description The user's email (for a failed login, the email that was tried).
                 * @example ada@example.com
                 */
                email: string | null;
            };
            /**
             * @description The operation of the spec that was called.
             * @example updateAgent
             */
            operation_id: string;
            /**
             * @description The HTTP method.
             * @example PATCH
             * @enum {string}
             */
            method: "POST" | "PUT" | "PATCH" | "DELETE";
            /**
             * @description The path that was called.
             * @example /api/v1/agents/0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d
             */
            path: string;
            /**
             * @description The id of the resource acted on (from the path, or the one created), or `null`.
             * @example 0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d
             */
            target_id: string | null;
            /**
             * Format: uuid
             * @description The team of the resource acted on, where there is one.
             * @example 0192f0a0-0000-7000-8000-00000000000a
             */
            team_id: string | null;
            /**
             * @description The request's `X-Request-ID`.
             * @example req_01J9Y4V8QK6M2T3N7W5X0Z1A2B
             */
            request_id: string;
            /**
             * @description `success` for a 2xx answer, `failure` otherwise.
             * @example success
             * @enum {string}
             */
            outcome: "success" | "failure";
            /**
             * Format: int32
             * @description The HTTP status of the answer.
             * @example 200
             */
            status: number;
            /**
             * @description The error code of a failed request, or `null`.
             * @example null
             */
            error_code?: string | null;
        };
        /**
         * AuditEventListEnvelope
         * @description A page of audit events, in the success envelope.
         */
        AuditEventListEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            /** @description The audit events of this page. */
            data: components["schemas"]["AuditEvent"][];
            meta: components["schemas"]["Meta"];
            pagination: components["schemas"]["Pagination"];
        };
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
         * @description The host's name (RFC 1123 labels joined by dots), unique within its team regardless of case.
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
            /**
             * Format: uuid
             * @description The team that owns the agent.
             * @example 0192f0a0-0000-7000-8000-00000000000a
             */
            team_id?: string;
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
            /**
             * Format: uuid
             * @description The team that will own the agent; may be left out when the caller belongs to exactly one team.
             * @example 0192f0a0-0000-7000-8000-00000000000a
             */
            team_id?: string;
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
         *       "team_id": "0192f0a0-0000-7000-8000-00000000000a",
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
        Agent: WithRequired<components["schemas"]["AgentFields"], "team_id" | "hostname" | "ip_address" | "platform" | "os_version" | "agent_version" | "status" | "tags" | "last_seen" | "created_at" | "updated_at">;
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
         * AgentSummary
         * @description How many agents the caller's teams have, by status and by platform.
         * @example {
         *       "total": 1250,
         *       "by_status": {
         *         "online": 1180,
         *         "offline": 52,
         *         "maintenance": 18
         *       },
         *       "by_platform": {
         *         "linux": 1100,
         *         "windows": 120,
         *         "macos": 20,
         *         "bsd": 10
         *       }
         *     }
         */
        AgentSummary: {
            /**
             * Format: int64
             * @description All agents counted.
             * @example 1250
             */
            total: number;
            /** @description Agents per status. */
            by_status: {
                /**
                 * Format: int64
                 * @description Agents whose heartbeats arrive.
                 * @example 1180
                 */
                online: number;
                /**
                 * Format: int64
                 * @description Agents that stopped heartbeating.
                 * @example 52
                 */
                offline: number;
                /**
                 * Format: int64
                 * @description Agents an operator took out of service.
                 * @example 18
                 */
                maintenance: number;
            };
            /** @description Agents per platform. */
            by_platform: {
                /**
                 * Format: int64
                 * @description Linux hosts.
                 * @example 1100
                 */
                linux: number;
                /**
                 * Format: int64
                 * @description Windows hosts.
                 * @example 120
                 */
                windows: number;
                /**
                 * Format: int64
                 * @description macOS hosts.
                 * @example 20
                 */
                macos: number;
                /**
                 * Format: int64
                 * @description BSD hosts.
                 * @example 10
                 */
                bsd: number;
            };
        };
        /**
         * AgentSummaryEnvelope
         * @description An agent summary, in the success envelope.
         */
        AgentSummaryEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            data: components["schemas"]["AgentSummary"];
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
         * ActionRequest
         * @description Options of an action on an agent.
         * @example {
         *       "reason": "Kernel update 6.8.0-49"
         *     }
         */
        ActionRequest: {
            /**
             * @description Queue the task even though the agent is offline (it runs when the agent returns); otherwise an offline agent is refused with 409 BIZ_AGENT_OFFLINE.
             * @default false
             * @example false
             */
            queue_if_offline?: boolean;
            /**
             * @description Why, for the audit trail.
             * @example Kernel update 6.8.0-49
             */
            reason?: string;
        };
        /**
         * TaskStatus
         * @description `pending` (waiting for its agent to claim it) → `running` → `succeeded` or `failed`; `cancelled` from
         *     pending or running. A finished task (succeeded, failed, cancelled) never changes again; `retryTask`
         *     makes a new one.
         * @example running
         * @enum {string}
         */
        TaskStatus: "pending" | "running" | "succeeded" | "failed" | "cancelled";
        /**
         * TaskAccepted
         * @description The answer to an action: the task that carries it out, and where to watch it.
         * @example {
         *       "task_id": "0192f1a0-1b2c-7d3e-8f40-5a6b7c8d9e0f",
         *       "status": "pending",
         *       "status_url": "/api/v1/tasks/0192f1a0-1b2c-7d3e-8f40-5a6b7c8d9e0f"
         *     }
         */
        TaskAccepted: {
            /**
             * Format: uuid
             * @description The new task's id.
             * @example 0192f1a0-1b2c-7d3e-8f40-5a6b7c8d9e0f
             */
            task_id: string;
            status: components["schemas"]["TaskStatus"];
            /**
             * @description Where the task can be read (also in `Location`).
             * @example /api/v1/tasks/0192f1a0-1b2c-7d3e-8f40-5a6b7c8d9e0f
             */
            status_url: string;
        };
        /**
         * TaskAcceptedEnvelope
         * @description A accepted task, in the success envelope.
         */
        TaskAcceptedEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            data: components["schemas"]["TaskAccepted"];
            meta: components["schemas"]["Meta"];
        };
        /**
         * UpdateAgentRequest
         * @description Which agent version to install, and the options of any action.
         * @example {
         *       "version": "2.5.0",
         *       "reason": "Fleet upgrade to 2.5"
         *     }
         */
        UpdateAgentRequest: {
            version: components["schemas"]["AgentVersion"];
            /**
             * @description Queue the task even though the agent is offline.
             * @default false
             * @example false
             */
            queue_if_offline?: boolean;
            /**
             * @description Why, for the audit trail.
             * @example Fleet upgrade to 2.5
             */
            reason?: string;
        };
        /**
         * CommandRequest
         * @description One program to run on the agent, with its arguments (no shell).
         * @example {
         *       "command": "systemctl",
         *       "args": [
         *         "restart",
         *         "nginx"
         *       ],
         *       "timeout_seconds": 60
         *     }
         */
        CommandRequest: {
            /**
             * @description The program.
             * @example systemctl
             */
            command: string;
            /** @description Its arguments. */
            args?: string[];
            /**
             * Format: int32
             * @description How long it may run.
             * @default 300
             * @example 60
             */
            timeout_seconds?: number;
            /**
             * @description Queue the task even though the agent is offline.
             * @default false
             * @example false
             */
            queue_if_offline?: boolean;
            /**
             * @description Why, for the audit trail.
             * @example Reload after config change
             */
            reason?: string;
        };
        /**
         * TaskType
         * @description What a task does on its agent: `reboot`, `shutdown`, `update_agent` (to a version) or `command` (one program with arguments).
         * @example reboot
         * @enum {string}
         */
        TaskType: "reboot" | "shutdown" | "update_agent" | "command";
        /**
         * TaskParameters
         * @description What the task was asked to do; which fields are present depends on its type.
         * @example {
         *       "command": "systemctl",
         *       "args": [
         *         "restart",
         *         "nginx"
         *       ],
         *       "timeout_seconds": 60
         *     }
         */
        TaskParameters: {
            /** @description For `update_agent`, the agent version to install. */
            version?: components["schemas"]["AgentVersion"];
            /**
             * @description For `command`, the program to run (no shell).
             * @example systemctl
             */
            command?: string;
            /** @description For `command`, its arguments. */
            args?: string[];
            /**
             * Format: int32
             * @description For `command`, how long it may run before the agent stops it.
             * @example 300
             */
            timeout_seconds?: number;
            /**
             * @description Why the task was asked for, for the audit trail.
             * @example Kernel update 6.8.0-49
             */
            reason?: string;
        };
        /**
         * TaskResult
         * @description What the agent reported when the task finished.
         * @example {
         *       "exit_code": 0,
         *       "output": "nginx.service restarted"
         *     }
         */
        TaskResult: {
            /**
             * Format: int32
             * @description The program's exit code, for `command` tasks.
             * @example 0
             */
            exit_code?: number;
            /**
             * @description The end of the program's output (at most 64 KiB).
             * @example nginx.service restarted
             */
            output?: string;
        };
        /**
         * Task
         * @description A long-running operation on one agent, from the moment it is asked for until it finishes.
         * @example {
         *       "id": "0192f1a0-1b2c-7d3e-8f40-5a6b7c8d9e0f",
         *       "team_id": "0192f0a0-0000-7000-8000-00000000000a",
         *       "agent_id": "0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d",
         *       "type": "reboot",
         *       "status": "running",
         *       "progress": 40,
         *       "eta": "2026-11-21T10:32:00.000Z",
         *       "parameters": {
         *         "reason": "Kernel update 6.8.0-49"
         *       },
         *       "result": null,
         *       "error": null,
         *       "attempt": 1,
         *       "retry_of": null,
         *       "queued_offline": false,
         *       "created_by": "0192f0d2-1a2b-7c3d-8e4f-5a6b7c8d9e0f",
         *       "created_at": "2026-11-21T10:30:00.000Z",
         *       "updated_at": "2026-11-21T10:30:40.000Z",
         *       "started_at": "2026-11-21T10:30:05.000Z",
         *       "finished_at": null
         *     }
         */
        Task: {
            /**
             * Format: uuid
             * @description The task's id (UUIDv7).
             * @example 0192f1a0-1b2c-7d3e-8f40-5a6b7c8d9e0f
             */
            id: string;
            /**
             * Format: uuid
             * @description The team of the task's agent.
             * @example 0192f0a0-0000-7000-8000-00000000000a
             */
            team_id: string;
            /**
             * Format: uuid
             * @description The agent that runs the task.
             * @example 0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d
             */
            agent_id: string;
            type: components["schemas"]["TaskType"];
            status: components["schemas"]["TaskStatus"];
            /**
             * Format: int32
             * @description How far the task is, in percent, as its agent reports it.
             * @example 40
             */
            progress: number;
            /**
             * Format: date-time
             * @description When the agent expects to finish, or `null`.
             * @example 2026-11-21T10:32:00.000Z
             */
            eta: string | null;
            parameters: components["schemas"]["TaskParameters"];
            /** @description What the agent reported at the end, or `null` before. */
            result: components["schemas"]["TaskResult"] | null;
            /**
             * @description Why the task failed or was cancelled, or `null` (`agent stopped heartbeating` when its agent went silent).
             * @example null
             */
            error: string | null;
            /**
             * Format: int32
             * @description 1 for the first try; a retry counts on.
             * @example 1
             */
            attempt: number;
            /**
             * Format: uuid
             * @description The task this one retries, or `null`.
             * @example null
             */
            retry_of: string | null;
            /**
             * @description Whether it was asked for while the agent was offline, on purpose, to run when it returns.
             * @example false
             */
            queued_offline: boolean;
            /**
             * Format: uuid
             * @description The user who asked for the task, or `null`.
             * @example 0192f0d2-1a2b-7c3d-8e4f-5a6b7c8d9e0f
             */
            created_by: string | null;
            /**
             * Format: date-time
             * @description When it was asked for (RFC 3339, UTC).
             * @example 2026-11-21T10:30:00.000Z
             */
            created_at: string;
            /**
             * Format: date-time
             * @description When it last changed (RFC 3339, UTC).
             * @example 2026-11-21T10:30:40.000Z
             */
            updated_at: string;
            /**
             * Format: date-time
             * @description When its agent claimed it, or `null`.
             * @example 2026-11-21T10:30:05.000Z
             */
            started_at: string | null;
            /**
             * Format: date-time
             * @description When it finished, or `null`.
             * @example null
             */
            finished_at: string | null;
        };
        /**
         * TaskListEnvelope
         * @description A page of tasks, in the success envelope.
         */
        TaskListEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            /** @description The tasks of this page. */
            data: components["schemas"]["Task"][];
            meta: components["schemas"]["Meta"];
            pagination: components["schemas"]["Pagination"];
        };
        /**
         * TaskEnvelope
         * @description A task, in the success envelope.
         */
        TaskEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            data: components["schemas"]["Task"];
            meta: components["schemas"]["Meta"];
        };
        /**
         * TaskLogLine
         * @description One line a task's agent reported.
         * @example {
         *       "id": "0192f1a1-0000-7000-8000-000000000001",
         *       "seq": 3,
         *       "at": "2026-11-21T10:30:12.000Z",
         *       "line": "Stopping services before reboot"
         *     }
         */
        TaskLogLine: {
            /**
             * Format: uuid
             * @description The line's id.
             * @example 0192f1a1-0000-7000-8000-000000000001
             */
            id: string;
            /**
             * Format: int64
             * @description Its position in the task's log, from 1.
             * @example 3
             */
            seq: number;
            /**
             * Format: date-time
             * @description When the agent reported it (RFC 3339, UTC).
             * @example 2026-11-21T10:30:12.000Z
             */
            at: string;
            /**
             * @description The text.
             * @example Stopping services before reboot
             */
            line: string;
        };
        /**
         * TaskLogLineListEnvelope
         * @description A page of log lines, in the success envelope.
         */
        TaskLogLineListEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            /** @description The log lines of this page. */
            data: components["schemas"]["TaskLogLine"][];
            meta: components["schemas"]["Meta"];
            pagination: components["schemas"]["Pagination"];
        };
        /**
         * EnrollmentToken
         * @description A team's token for enrolling hosts. Its secret is shown once, at creation.
         * @example {
         *       "id": "0192f1b0-2c3d-7e4f-8a50-6b7c8d9e0f1a",
         *       "team_id": "0192f0a0-0000-7000-8000-00000000000a",
         *       "name": "eu-west-1 autoscaling group",
         *       "prefix": "oet_Xq7LmZ2a",
         *       "uses": 12,
         *       "max_uses": 100,
         *       "expires_at": "2026-12-21T00:00:00.000Z",
         *       "created_at": "2026-11-21T10:00:00.000Z"
         *     }
         */
        EnrollmentToken: {
            /**
             * Format: uuid
             * @description The token's id.
             * @example 0192f1b0-2c3d-7e4f-8a50-6b7c8d9e0f1a
             */
            id: string;
            /**
             * Format: uuid
             * @description The team that enrolled hosts join.
             * @example 0192f0a0-0000-7000-8000-00000000000a
             */
            team_id: string;
            /**
             * @description What the token is for.
             * @example eu-west-1 autoscaling group
             */
            name: string;
            /**
             * @description The start of the token, to recognise it.
             * @example oet_Xq7LmZ2a
             */
            prefix: string;
            /**
             * Format: int32
             * @description How many hosts enrolled with it.
             * @example 12
             */
            uses: number;
            /**
             * Format: int32
             * @description How many hosts may enrol with it, or `null` for no limit.
             * @example 100
             */
            max_uses: number | null;
            /**
             * Format: date-time
             * @description When it stops working.
             * @example 2026-12-21T00:00:00.000Z
             */
            expires_at: string;
            /**
             * Format: date-time
             * @description When it was created.
             * @example 2026-11-21T10:00:00.000Z
             */
            created_at: string;
        };
        /**
         * EnrollmentTokenListEnvelope
         * @description A page of enrollment tokens, in the success envelope.
         */
        EnrollmentTokenListEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            /** @description The enrollment tokens of this page. */
            data: components["schemas"]["EnrollmentToken"][];
            meta: components["schemas"]["Meta"];
            pagination: components["schemas"]["Pagination"];
        };
        /**
         * EnrollmentTokenCreate
         * @description A new enrollment token.
         * @example {
         *       "name": "eu-west-1 autoscaling group",
         *       "max_uses": 100,
         *       "expires_in_hours": 720
         *     }
         */
        EnrollmentTokenCreate: {
            /**
             * @description What the token is for.
             * @example eu-west-1 autoscaling group
             */
            name: string;
            /**
             * Format: int32
             * @description How many hosts may enrol with it; omit for no limit.
             * @example 100
             */
            max_uses?: number;
            /**
             * Format: int32
             * @description How long it works.
             * @default 168
             * @example 720
             */
            expires_in_hours?: number;
        };
        /**
         * EnrollmentTokenCreated
         * @description A new enrollment token with its secret, shown this once.
         * @example {
         *       "id": "0192f1b0-2c3d-7e4f-8a50-6b7c8d9e0f1a",
         *       "team_id": "0192f0a0-0000-7000-8000-00000000000a",
         *       "name": "eu-west-1 autoscaling group",
         *       "prefix": "oet_Xq7LmZ2a",
         *       "uses": 0,
         *       "max_uses": 100,
         *       "expires_at": "2026-12-21T00:00:00.000Z",
         *       "created_at": "2026-11-21T10:00:00.000Z",
         *       "secret": "oet_Xq7LmZ2a_4tYhR9sK2vN6pQ1wB8cE3fG5jL0mA7dZ"
         *     }
         */
        EnrollmentTokenCreated: components["schemas"]["EnrollmentToken"] & {
            /**
             * @description The whole token, for `enrollAgent`. Store it now; it cannot be shown again.
             * @example oet_Xq7LmZ2a_4tYhR9sK2vN6pQ1wB8cE3fG5jL0mA7dZ
             */
            secret: string;
        };
        /**
         * EnrollmentTokenCreatedEnvelope
         * @description A new enrollment token with its secret, in the success envelope.
         */
        EnrollmentTokenCreatedEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            data: components["schemas"]["EnrollmentTokenCreated"];
            meta: components["schemas"]["Meta"];
        };
        /**
         * EnrollRequest
         * @description A host asking to join its team's fleet, with what it knows about itself.
         * @example {
         *       "enrollment_token": "oet_Xq7LmZ2a_4tYhR9sK2vN6pQ1wB8cE3fG5jL0mA7dZ",
         *       "hostname": "web-07.prod.example.com",
         *       "ip_address": "10.0.4.27",
         *       "platform": "linux",
         *       "os_version": "Ubuntu 24.04.1 LTS",
         *       "agent_version": "2.4.1"
         *     }
         */
        EnrollRequest: {
            /**
             * @description A team's enrollment token (`oet_…`).
             * @example oet_Xq7LmZ2a_4tYhR9sK2vN6pQ1wB8cE3fG5jL0mA7dZ
             */
            enrollment_token: string;
            hostname: components["schemas"]["Hostname"];
            ip_address: components["schemas"]["IpAddress"];
            platform: components["schemas"]["Platform"];
            os_version?: components["schemas"]["OsVersion"];
            agent_version?: components["schemas"]["AgentVersion"];
        };
        /**
         * Enrollment
         * @description The enrolled agent and its identity. The key is shown once; the agent sends it as `X-API-Key` from now on.
         * @example {
         *       "agent": {
         *         "id": "0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d",
         *         "team_id": "0192f0a0-0000-7000-8000-00000000000a",
         *         "hostname": "web-07.prod.example.com",
         *         "ip_address": "10.0.4.27",
         *         "platform": "linux",
         *         "os_version": "Ubuntu 24.04.1 LTS",
         *         "agent_version": "2.4.1",
         *         "status": "online",
         *         "tags": [],
         *         "last_seen": "2026-11-21T10:30:00.000Z",
         *         "created_at": "2026-11-21T10:30:00.000Z",
         *         "updated_at": "2026-11-21T10:30:00.000Z"
         *       },
         *       "agent_key": "oak_Lm3Qx9Ta_Zr4pQ8vN1tY6wK3mB0cX5dF2gH9jL7sA"
         *     }
         */
        Enrollment: {
            agent: components["schemas"]["Agent"];
            /**
             * @description The agent's own credential (`oak_…`); it can only act as this agent.
             * @example oak_Lm3Qx9Ta_Zr4pQ8vN1tY6wK3mB0cX5dF2gH9jL7sA
             */
            agent_key: string;
        };
        /**
         * EnrollmentEnvelope
         * @description A new enrollment, in the success envelope.
         */
        EnrollmentEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            data: components["schemas"]["Enrollment"];
            meta: components["schemas"]["Meta"];
        };
        /**
         * Heartbeat
         * @description What the server tells a heartbeating agent.
         * @example {
         *       "agent_id": "0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d",
         *       "status": "online",
         *       "pending_tasks": 1,
         *       "server_time": "2026-11-21T10:30:00.000Z"
         *     }
         */
        Heartbeat: {
            /**
             * Format: uuid
             * @description The agent.
             * @example 0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d
             */
            agent_id: string;
            status: components["schemas"]["AgentStatus"];
            /**
             * Format: int32
             * @description How many tasks wait for the agent to claim them.
             * @example 1
             */
            pending_tasks: number;
            /**
             * Format: date-time
             * @description The server's clock (RFC 3339, UTC).
             * @example 2026-11-21T10:30:00.000Z
             */
            server_time: string;
        };
        /**
         * HeartbeatEnvelope
         * @description A heartbeat answer, in the success envelope.
         */
        HeartbeatEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            data: components["schemas"]["Heartbeat"];
            meta: components["schemas"]["Meta"];
        };
        /**
         * ClaimRequest
         * @description How many pending tasks the agent will take now.
         * @example {
         *       "max_tasks": 1
         *     }
         */
        ClaimRequest: {
            /**
             * Format: int32
             * @description At most this many.
             * @default 1
             * @example 1
             */
            max_tasks?: number;
        };
        /**
         * TaskProgressReport
         * @description An agent's report on a task it claimed; `status` ends it.
         * @example {
         *       "progress": 40,
         *       "logs": [
         *         "Stopping services before reboot"
         *       ]
         *     }
         */
        TaskProgressReport: {
            /**
             * Format: int32
             * @description How far it is, in percent.
             * @example 40
             */
            progress?: number;
            /**
             * Format: date-time
             * @description When the agent expects to finish.
             * @example 2026-11-21T10:32:00Z
             */
            eta?: string;
            /** @description New log lines, in order. */
            logs?: string[];
            /**
             * @description `succeeded` or `failed` to finish the task; leave out while it runs.
             * @example succeeded
             * @enum {string}
             */
            status?: "succeeded" | "failed";
            result?: components["schemas"]["TaskResult"];
            /**
             * @description Why it failed.
             * @example exit code 1
             */
            error?: string;
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
             * Format: int32
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
                "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["ErrorEnvelope"];
            };
        };
        /** @description The credentials do not match an active user (or, for a password change, the current password is wrong). */
        InvalidCredentials: {
            headers: {
                "X-Request-ID": components["headers"]["XRequestId"];
                "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                /**
                 * @description How to authenticate (RFC 6750).
                 * @example Bearer realm="opsdeck"
                 */
                "WWW-Authenticate"?: string;
                "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
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
                "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
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
                "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
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
                "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["ErrorEnvelope"];
            };
        };
        /** @description Too many attempts; wait Retry-After seconds. */
        TooManyRequests: {
            headers: {
                "X-Request-ID": components["headers"]["XRequestId"];
                "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                "Retry-After": components["headers"]["RetryAfter"];
                "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
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
                "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
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
                "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                "Retry-After": components["headers"]["RetryAfter"];
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["ErrorEnvelope"];
            };
        };
        /** @description The refresh token is unknown, spent, expired or revoked; presenting a spent one revokes its whole family. */
        InvalidRefreshToken: {
            headers: {
                "X-Request-ID": components["headers"]["XRequestId"];
                "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                /**
                 * @description How to authenticate (RFC 6750).
                 * @example Bearer realm="opsdeck"
                 */
                "WWW-Authenticate"?: string;
                "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["ErrorEnvelope"];
            };
        };
        /** @description The representation you hold (its ETag in `If-None-Match`) is current; no body. */
        NotModified: {
            headers: {
                "X-Request-ID": components["headers"]["XRequestId"];
                "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                ETag: components["headers"]["ETag"];
                "Cache-Control": components["headers"]["CacheControl"];
                "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                [name: string]: unknown;
            };
            content?: never;
        };
        /** @description No valid credentials: the bearer token or API key is missing, malformed, expired or revoked. */
        Unauthorized: {
            headers: {
                "X-Request-ID": components["headers"]["XRequestId"];
                "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                /**
                 * @description How to authenticate (RFC 6750).
                 * @example Bearer realm="opsdeck"
                 */
                "WWW-Authenticate"?: string;
                "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["ErrorEnvelope"];
            };
        };
        /** @description Authenticated, but the caller's role or API key scopes lack the permission this operation requires. */
        Forbidden: {
            headers: {
                "X-Request-ID": components["headers"]["XRequestId"];
                "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["ErrorEnvelope"];
            };
        };
        /** @description The resource changed since the version named in If-Match; read it again and reapply your change. */
        PreconditionFailed: {
            headers: {
                "X-Request-ID": components["headers"]["XRequestId"];
                "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
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
                "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
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
                "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                [name: string]: unknown;
            };
            content: {
                "application/json": components["schemas"]["ErrorEnvelope"];
            };
        };
    };
    parameters: {
        /**
         * @description The `ETag` of a representation you hold; the answer is `304 Not Modified` (no body) while it is current.
         * @example "x3mY9qLr0Zt1b8VwKc2PjA"
         */
        IfNoneMatch: string;
        /**
         * @description The `ETag` of the version you read. The change is made only if the resource is still that version;
         *     otherwise `412 RES_PRECONDITION_FAILED`, so two editors cannot overwrite each other.
         * @example "x3mY9qLr0Zt1b8VwKc2PjA"
         */
        IfMatch: string;
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
         * @description A key you choose (a UUID is a good one) to make a retry safe: the same key with the same request replays
         *     the first answer (with `Idempotent-Replayed: true`) instead of doing the work again. Keys are scoped to the
         *     caller and kept 24 hours. The same key with a different request is `422`; while the first is still in
         *     flight, `409`.
         * @example 5f0c2b1e-8a7d-4c3b-9e21-7d6a5b4c3d2e
         */
        IdempotencyKey: string;
        /**
         * @description The API key's id.
         * @example 0192f0e3-4b5c-7d6e-9f00-112233445566
         */
        ApiKeyId: string;
        /**
         * @description Order: comma-separated `field:direction` pairs over `name`, `created_at`; ties broken by `id`. Default `name:asc`.
         * @example name:asc
         */
        TeamSort: string;
        /**
         * @description Only teams whose name contains this text (any case).
         * @example plat
         */
        TeamSearch: string;
        /**
         * @description The team's id.
         * @example 0192f0a0-0000-7000-8000-00000000000a
         */
        TeamId: string;
        /**
         * @description The user's id.
         * @example 0192f0d2-1a2b-7c3d-8e4f-5a6b7c8d9e0f
         */
        UserId: string;
        /**
         * @description Order: comma-separated `field:direction` pairs over `email`, `name`, `role`, `created_at`; ties broken by `id`. Default `created_at:desc`.
         * @example email:asc
         */
        UserSort: string;
        /**
         * @description Only users with this role.
         * @example operator
         */
        RoleFilter: components["schemas"]["RoleName"];
        /**
         * @description Only active (`true`) or deactivated (`false`) users.
         * @example true
         */
        ActiveFilter: boolean;
        /**
         * @description Only users whose email or name contains this text (any case).
         * @example ada
         */
        UserSearch: string;
        /**
         * @description Order by `at`, `asc` or `desc` (default); ties broken by `id`.
         * @example at:desc
         */
        AuditSort: string;
        /**
         * @description Only events of this user.
         * @example 0192f0d2-1a2b-7c3d-8e4f-5a6b7c8d9e0f
         */
        ActorFilter: string;
        /**
         * @description Only events of this operation.
         * @example updateAgent
         */
        OperationFilter: string;
        /**
         * @description Only successful or failed requests.
         * @example failure
         */
        OutcomeFilter: "success" | "failure";
        /**
         * @description Only events acting on this resource.
         * @example 0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d
         */
        TargetFilter: string;
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
        AgentFieldsParam: ("id" | "team_id" | "hostname" | "ip_address" | "platform" | "os_version" | "agent_version" | "status" | "tags" | "last_seen" | "created_at" | "updated_at")[];
        /**
         * @description Only resources of this team (one of the caller's).
         * @example 0192f0a0-0000-7000-8000-00000000000a
         */
        TeamIdFilter: string;
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
         * @description The agent's id.
         * @example 0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d
         */
        AgentId: string;
        /**
         * @description Order by `created_at` (default `created_at:desc`) or `updated_at`, `asc` or `desc`; ties broken by `id`.
         * @example created_at:desc
         */
        TaskSort: string;
        /**
         * @description Only tasks in this status.
         * @example running
         */
        TaskStatusFilter: components["schemas"]["TaskStatus"];
        /**
         * @description Only tasks of this type.
         * @example reboot
         */
        TaskTypeFilter: components["schemas"]["TaskType"];
        /**
         * @description Only tasks of this agent.
         * @example 0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d
         */
        AgentIdFilter: string;
        /**
         * @description The task's id.
         * @example 0192f1a0-1b2c-7d3e-8f40-5a6b7c8d9e0f
         */
        TaskId: string;
        /**
         * @description The enrollment token's id.
         * @example 0192f1b0-2c3d-7e4f-8a50-6b7c8d9e0f1a
         */
        EnrollmentTokenId: string;
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
         * @description The browser origin allowed to read the answer (CORS). Sent only to origins listed in the server's
         *     `CORS_ORIGINS`; absent otherwise, so browsers on other origins cannot read it.
         * @example https://console.opsdeck.example.com
         */
        AccessControlAllowOrigin: string;
        /**
         * @description The size of the caller's token bucket (the most requests it can make at once, its burst).
         * @example 100
         */
        XRateLimitLimit: number;
        /**
         * @description Tokens left in the bucket after this request; each request spends one.
         * @example 97
         */
        XRateLimitRemaining: number;
        /**
         * @description When the bucket is full again (epoch seconds); it refills steadily at the tier's rate.
         * @example 1795257060
         */
        XRateLimitReset: number;
        /**
         * @description Which bucket the request counted against: `api_key:<id>`, `user:<id>`, `ip:<address>` or `login:<address>`, then the tier.
         * @example user:0192f0d2-1a2b-7c3d-8e4f-5a6b7c8d9e0f/authenticated
         */
        XRateLimitBucket: string;
        /**
         * @description Seconds to wait before retrying.
         * @example 5
         */
        RetryAfter: number;
        /**
         * @description A strong validator of the representation. Send it back in `If-None-Match` to get `304 Not Modified`
         *     when nothing changed, or in `If-Match` on a write so it only applies to the version you read.
         * @example "x3mY9qLr0Zt1b8VwKc2PjA"
         */
        ETag: string;
        /**
         * @description How caches may keep the answer. Answers that depend on the caller are `private`; `no-cache` means a
         *     cache must revalidate (with the ETag) before reuse. The value is each operation's `x-cache-control`.
         * @example private, no-cache
         */
        CacheControl: string;
        /**
         * @description When the resource last changed (HTTP date, the resource's `updated_at`).
         * @example Fri, 20 Nov 2026 17:02:12 GMT
         */
        LastModified: string;
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
        /**
         * @description `true` when this answer is the stored answer of an earlier request with the same `Idempotency-Key`.
         * @example true
         */
        IdempotentReplayed: "true";
    };
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    login: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description Credentials of a user. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["LoginRequest"];
            };
        };
        responses: {
            /** @description Signed in. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TokenPairEnvelope"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["InvalidCredentials"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            422: components["responses"]["UnprocessableEntity"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    refreshToken: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description A refresh token, exchanged once for a new pair. Presenting a used one revokes its whole family. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["RefreshRequest"];
            };
        };
        responses: {
            /** @description A new token pair. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TokenPairEnvelope"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["InvalidRefreshToken"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            422: components["responses"]["UnprocessableEntity"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    logout: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description A refresh token, exchanged once for a new pair. Presenting a used one revokes its whole family. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["RefreshRequest"];
            };
        };
        responses: {
            /** @description Signed out. */
            204: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["InvalidRefreshToken"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            422: components["responses"]["UnprocessableEntity"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    getProfile: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description The `ETag` of a representation you hold; the answer is `304 Not Modified` (no body) while it is current.
                 * @example "x3mY9qLr0Zt1b8VwKc2PjA"
                 */
                "If-None-Match"?: components["parameters"]["IfNoneMatch"];
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The caller. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    ETag: components["headers"]["ETag"];
                    "Cache-Control": components["headers"]["CacheControl"];
                    "Last-Modified": components["headers"]["LastModified"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["UserEnvelope"];
                };
            };
            304: components["responses"]["NotModified"];
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    updateProfile: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description The `ETag` of the version you read. The change is made only if the resource is still that version;
                 *     otherwise `412 RES_PRECONDITION_FAILED`, so two editors cannot overwrite each other.
                 * @example "x3mY9qLr0Zt1b8VwKc2PjA"
                 */
                "If-Match"?: components["parameters"]["IfMatch"];
            };
            path?: never;
            cookie?: never;
        };
        /** @description The fields a user may change about itself. Role, email and activity are for administrators. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["ProfilePatch"];
            };
        };
        responses: {
            /** @description The caller as it now is. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["UserEnvelope"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            412: components["responses"]["PreconditionFailed"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            422: components["responses"]["UnprocessableEntity"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    changePassword: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description A new password, proven by the current one. Every session of the user is signed out. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["PasswordChange"];
            };
        };
        responses: {
            /** @description The password was changed. */
            204: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            422: components["responses"]["UnprocessableEntity"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    listApiKeys: {
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
            };
            header?: {
                /**
                 * @description The `ETag` of a representation you hold; the answer is `304 Not Modified` (no body) while it is current.
                 * @example "x3mY9qLr0Zt1b8VwKc2PjA"
                 */
                "If-None-Match"?: components["parameters"]["IfNoneMatch"];
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of API keys. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    Link: components["headers"]["Link"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    ETag: components["headers"]["ETag"];
                    "Cache-Control": components["headers"]["CacheControl"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ApiKeyListEnvelope"];
                };
            };
            304: components["responses"]["NotModified"];
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    createApiKey: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description A key you choose (a UUID is a good one) to make a retry safe: the same key with the same request replays
                 *     the first answer (with `Idempotent-Replayed: true`) instead of doing the work again. Keys are scoped to the
                 *     caller and kept 24 hours. The same key with a different request is `422`; while the first is still in
                 *     flight, `409`.
                 * @example 5f0c2b1e-8a7d-4c3b-9e21-7d6a5b4c3d2e
                 */
                "Idempotency-Key"?: components["parameters"]["IdempotencyKey"];
            };
            path?: never;
            cookie?: never;
        };
        /** @description A new API key. Its scopes must be permissions the caller's role grants. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["ApiKeyCreate"];
            };
        };
        responses: {
            /** @description The key, with its secret. */
            201: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    Location: components["headers"]["Location"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    "Idempotent-Replayed": components["headers"]["IdempotentReplayed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ApiKeyCreatedEnvelope"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            409: components["responses"]["Conflict"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            422: components["responses"]["UnprocessableEntity"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    deleteApiKey: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The API key's id.
                 * @example 0192f0e3-4b5c-7d6e-9f00-112233445566
                 */
                api_key_id: components["parameters"]["ApiKeyId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The key was revoked. */
            204: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    listTeams: {
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
                 * @description Order: comma-separated `field:direction` pairs over `name`, `created_at`; ties broken by `id`. Default `name:asc`.
                 * @example name:asc
                 */
                sort?: components["parameters"]["TeamSort"];
                /**
                 * @description Only teams whose name contains this text (any case).
                 * @example plat
                 */
                search?: components["parameters"]["TeamSearch"];
            };
            header?: {
                /**
                 * @description The `ETag` of a representation you hold; the answer is `304 Not Modified` (no body) while it is current.
                 * @example "x3mY9qLr0Zt1b8VwKc2PjA"
                 */
                "If-None-Match"?: components["parameters"]["IfNoneMatch"];
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of teams. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    Link: components["headers"]["Link"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    ETag: components["headers"]["ETag"];
                    "Cache-Control": components["headers"]["CacheControl"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TeamListEnvelope"];
                };
            };
            304: components["responses"]["NotModified"];
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    createTeam: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description A key you choose (a UUID is a good one) to make a retry safe: the same key with the same request replays
                 *     the first answer (with `Idempotent-Replayed: true`) instead of doing the work again. Keys are scoped to the
                 *     caller and kept 24 hours. The same key with a different request is `422`; while the first is still in
                 *     flight, `409`.
                 * @example 5f0c2b1e-8a7d-4c3b-9e21-7d6a5b4c3d2e
                 */
                "Idempotency-Key"?: components["parameters"]["IdempotencyKey"];
            };
            path?: never;
            cookie?: never;
        };
        /** @description A new team; its creator becomes its first member. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["TeamCreate"];
            };
        };
        responses: {
            /** @description The team, as it now is. */
            201: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    Location: components["headers"]["Location"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    "Idempotent-Replayed": components["headers"]["IdempotentReplayed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TeamEnvelope"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            409: components["responses"]["Conflict"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            422: components["responses"]["UnprocessableEntity"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    getTeam: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description The `ETag` of a representation you hold; the answer is `304 Not Modified` (no body) while it is current.
                 * @example "x3mY9qLr0Zt1b8VwKc2PjA"
                 */
                "If-None-Match"?: components["parameters"]["IfNoneMatch"];
            };
            path: {
                /**
                 * @description The team's id.
                 * @example 0192f0a0-0000-7000-8000-00000000000a
                 */
                team_id: components["parameters"]["TeamId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The team, as it now is. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    ETag: components["headers"]["ETag"];
                    "Cache-Control": components["headers"]["CacheControl"];
                    "Last-Modified": components["headers"]["LastModified"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TeamEnvelope"];
                };
            };
            304: components["responses"]["NotModified"];
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    deleteTeam: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description The `ETag` of the version you read. The change is made only if the resource is still that version;
                 *     otherwise `412 RES_PRECONDITION_FAILED`, so two editors cannot overwrite each other.
                 * @example "x3mY9qLr0Zt1b8VwKc2PjA"
                 */
                "If-Match"?: components["parameters"]["IfMatch"];
            };
            path: {
                /**
                 * @description The team's id.
                 * @example 0192f0a0-0000-7000-8000-00000000000a
                 */
                team_id: components["parameters"]["TeamId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The team was deleted. */
            204: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            412: components["responses"]["PreconditionFailed"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    updateTeam: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description The `ETag` of the version you read. The change is made only if the resource is still that version;
                 *     otherwise `412 RES_PRECONDITION_FAILED`, so two editors cannot overwrite each other.
                 * @example "x3mY9qLr0Zt1b8VwKc2PjA"
                 */
                "If-Match"?: components["parameters"]["IfMatch"];
            };
            path: {
                /**
                 * @description The team's id.
                 * @example 0192f0a0-0000-7000-8000-00000000000a
                 */
                team_id: components["parameters"]["TeamId"];
            };
            cookie?: never;
        };
        /** @description A JSON merge patch of a team. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["TeamPatch"];
            };
        };
        responses: {
            /** @description The team as it now is. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TeamEnvelope"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            412: components["responses"]["PreconditionFailed"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            422: components["responses"]["UnprocessableEntity"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    listTeamMembers: {
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
            };
            header?: {
                /**
                 * @description The `ETag` of a representation you hold; the answer is `304 Not Modified` (no body) while it is current.
                 * @example "x3mY9qLr0Zt1b8VwKc2PjA"
                 */
                "If-None-Match"?: components["parameters"]["IfNoneMatch"];
            };
            path: {
                /**
                 * @description The team's id.
                 * @example 0192f0a0-0000-7000-8000-00000000000a
                 */
                team_id: components["parameters"]["TeamId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of members. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    Link: components["headers"]["Link"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    ETag: components["headers"]["ETag"];
                    "Cache-Control": components["headers"]["CacheControl"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TeamMemberListEnvelope"];
                };
            };
            304: components["responses"]["NotModified"];
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    addTeamMember: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description A key you choose (a UUID is a good one) to make a retry safe: the same key with the same request replays
                 *     the first answer (with `Idempotent-Replayed: true`) instead of doing the work again. Keys are scoped to the
                 *     caller and kept 24 hours. The same key with a different request is `422`; while the first is still in
                 *     flight, `409`.
                 * @example 5f0c2b1e-8a7d-4c3b-9e21-7d6a5b4c3d2e
                 */
                "Idempotency-Key"?: components["parameters"]["IdempotencyKey"];
            };
            path: {
                /**
                 * @description The team's id.
                 * @example 0192f0a0-0000-7000-8000-00000000000a
                 */
                team_id: components["parameters"]["TeamId"];
            };
            cookie?: never;
        };
        /** @description A user to add to the team. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["TeamMemberAdd"];
            };
        };
        responses: {
            /** @description The membership. */
            201: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    Location: components["headers"]["Location"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    "Idempotent-Replayed": components["headers"]["IdempotentReplayed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TeamMemberEnvelope"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            422: components["responses"]["UnprocessableEntity"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    removeTeamMember: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The team's id.
                 * @example 0192f0a0-0000-7000-8000-00000000000a
                 */
                team_id: components["parameters"]["TeamId"];
                /**
                 * @description The user's id.
                 * @example 0192f0d2-1a2b-7c3d-8e4f-5a6b7c8d9e0f
                 */
                user_id: components["parameters"]["UserId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The user left the team. */
            204: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    listUsers: {
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
                 * @description Order: comma-separated `field:direction` pairs over `email`, `name`, `role`, `created_at`; ties broken by `id`. Default `created_at:desc`.
                 * @example email:asc
                 */
                sort?: components["parameters"]["UserSort"];
                /**
                 * @description Only users with this role.
                 * @example operator
                 */
                role?: components["parameters"]["RoleFilter"];
                /**
                 * @description Only active (`true`) or deactivated (`false`) users.
                 * @example true
                 */
                active?: components["parameters"]["ActiveFilter"];
                /**
                 * @description Only users whose email or name contains this text (any case).
                 * @example ada
                 */
                search?: components["parameters"]["UserSearch"];
            };
            header?: {
                /**
                 * @description The `ETag` of a representation you hold; the answer is `304 Not Modified` (no body) while it is current.
                 * @example "x3mY9qLr0Zt1b8VwKc2PjA"
                 */
                "If-None-Match"?: components["parameters"]["IfNoneMatch"];
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of users. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    Link: components["headers"]["Link"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    ETag: components["headers"]["ETag"];
                    "Cache-Control": components["headers"]["CacheControl"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["UserListEnvelope"];
                };
            };
            304: components["responses"]["NotModified"];
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    createUser: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description A key you choose (a UUID is a good one) to make a retry safe: the same key with the same request replays
                 *     the first answer (with `Idempotent-Replayed: true`) instead of doing the work again. Keys are scoped to the
                 *     caller and kept 24 hours. The same key with a different request is `422`; while the first is still in
                 *     flight, `409`.
                 * @example 5f0c2b1e-8a7d-4c3b-9e21-7d6a5b4c3d2e
                 */
                "Idempotency-Key"?: components["parameters"]["IdempotencyKey"];
            };
            path?: never;
            cookie?: never;
        };
        /** @description A new user. Without `password`, a one-time password is generated and returned once. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["UserCreate"];
            };
        };
        responses: {
            /** @description The user, as it now is. */
            201: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    Location: components["headers"]["Location"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    "Idempotent-Replayed": components["headers"]["IdempotentReplayed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["UserCreatedEnvelope"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            409: components["responses"]["Conflict"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            422: components["responses"]["UnprocessableEntity"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    getUser: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description The `ETag` of a representation you hold; the answer is `304 Not Modified` (no body) while it is current.
                 * @example "x3mY9qLr0Zt1b8VwKc2PjA"
                 */
                "If-None-Match"?: components["parameters"]["IfNoneMatch"];
            };
            path: {
                /**
                 * @description The user's id.
                 * @example 0192f0d2-1a2b-7c3d-8e4f-5a6b7c8d9e0f
                 */
                user_id: components["parameters"]["UserId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The user, as it now is. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    ETag: components["headers"]["ETag"];
                    "Cache-Control": components["headers"]["CacheControl"];
                    "Last-Modified": components["headers"]["LastModified"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["UserEnvelope"];
                };
            };
            304: components["responses"]["NotModified"];
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    deleteUser: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description The `ETag` of the version you read. The change is made only if the resource is still that version;
                 *     otherwise `412 RES_PRECONDITION_FAILED`, so two editors cannot overwrite each other.
                 * @example "x3mY9qLr0Zt1b8VwKc2PjA"
                 */
                "If-Match"?: components["parameters"]["IfMatch"];
            };
            path: {
                /**
                 * @description The user's id.
                 * @example 0192f0d2-1a2b-7c3d-8e4f-5a6b7c8d9e0f
                 */
                user_id: components["parameters"]["UserId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The user was deleted. */
            204: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            412: components["responses"]["PreconditionFailed"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    updateUser: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description The `ETag` of the version you read. The change is made only if the resource is still that version;
                 *     otherwise `412 RES_PRECONDITION_FAILED`, so two editors cannot overwrite each other.
                 * @example "x3mY9qLr0Zt1b8VwKc2PjA"
                 */
                "If-Match"?: components["parameters"]["IfMatch"];
            };
            path: {
                /**
                 * @description The user's id.
                 * @example 0192f0d2-1a2b-7c3d-8e4f-5a6b7c8d9e0f
                 */
                user_id: components["parameters"]["UserId"];
            };
            cookie?: never;
        };
        /** @description A JSON merge patch of a user, for administrators. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["UserPatch"];
            };
        };
        responses: {
            /** @description The user as it now is. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["UserEnvelope"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            412: components["responses"]["PreconditionFailed"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            422: components["responses"]["UnprocessableEntity"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    listRoles: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description The `ETag` of a representation you hold; the answer is `304 Not Modified` (no body) while it is current.
                 * @example "x3mY9qLr0Zt1b8VwKc2PjA"
                 */
                "If-None-Match"?: components["parameters"]["IfNoneMatch"];
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The roles. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    ETag: components["headers"]["ETag"];
                    "Cache-Control": components["headers"]["CacheControl"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RoleListEnvelope"];
                };
            };
            304: components["responses"]["NotModified"];
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    listAuditEvents: {
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
                 * @description Order by `at`, `asc` or `desc` (default); ties broken by `id`.
                 * @example at:desc
                 */
                sort?: components["parameters"]["AuditSort"];
                /**
                 * @description Only events of this user.
                 * @example 0192f0d2-1a2b-7c3d-8e4f-5a6b7c8d9e0f
                 */
                actor_id?: components["parameters"]["ActorFilter"];
                /**
                 * @description Only events of this operation.
                 * @example updateAgent
                 */
                operation_id?: components["parameters"]["OperationFilter"];
                /**
                 * @description Only successful or failed requests.
                 * @example failure
                 */
                outcome?: components["parameters"]["OutcomeFilter"];
                /**
                 * @description Only events acting on this resource.
                 * @example 0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d
                 */
                target_id?: components["parameters"]["TargetFilter"];
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
            header?: {
                /**
                 * @description The `ETag` of a representation you hold; the answer is `304 Not Modified` (no body) while it is current.
                 * @example "x3mY9qLr0Zt1b8VwKc2PjA"
                 */
                "If-None-Match"?: components["parameters"]["IfNoneMatch"];
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of audit events. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    Link: components["headers"]["Link"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    ETag: components["headers"]["ETag"];
                    "Cache-Control": components["headers"]["CacheControl"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AuditEventListEnvelope"];
                };
            };
            304: components["responses"]["NotModified"];
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
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
                 * @description Only resources of this team (one of the caller's).
                 * @example 0192f0a0-0000-7000-8000-00000000000a
                 */
                team_id?: components["parameters"]["TeamIdFilter"];
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
            header?: {
                /**
                 * @description The `ETag` of a representation you hold; the answer is `304 Not Modified` (no body) while it is current.
                 * @example "x3mY9qLr0Zt1b8VwKc2PjA"
                 */
                "If-None-Match"?: components["parameters"]["IfNoneMatch"];
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of agents. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    Link: components["headers"]["Link"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    ETag: components["headers"]["ETag"];
                    "Cache-Control": components["headers"]["CacheControl"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AgentListEnvelope"];
                };
            };
            304: components["responses"]["NotModified"];
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    createAgent: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description A key you choose (a UUID is a good one) to make a retry safe: the same key with the same request replays
                 *     the first answer (with `Idempotent-Replayed: true`) instead of doing the work again. Keys are scoped to the
                 *     caller and kept 24 hours. The same key with a different request is `422`; while the first is still in
                 *     flight, `409`.
                 * @example 5f0c2b1e-8a7d-4c3b-9e21-7d6a5b4c3d2e
                 */
                "Idempotency-Key"?: components["parameters"]["IdempotencyKey"];
            };
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
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    Location: components["headers"]["Location"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    "Idempotent-Replayed": components["headers"]["IdempotentReplayed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AgentEnvelope"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            422: components["responses"]["UnprocessableEntity"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    getAgentSummary: {
        parameters: {
            query?: {
                /**
                 * @description Only resources of this team (one of the caller's).
                 * @example 0192f0a0-0000-7000-8000-00000000000a
                 */
                team_id?: components["parameters"]["TeamIdFilter"];
            };
            header?: {
                /**
                 * @description The `ETag` of a representation you hold; the answer is `304 Not Modified` (no body) while it is current.
                 * @example "x3mY9qLr0Zt1b8VwKc2PjA"
                 */
                "If-None-Match"?: components["parameters"]["IfNoneMatch"];
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The summary. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    ETag: components["headers"]["ETag"];
                    "Cache-Control": components["headers"]["CacheControl"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AgentSummaryEnvelope"];
                };
            };
            304: components["responses"]["NotModified"];
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    getAgent: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description The `ETag` of a representation you hold; the answer is `304 Not Modified` (no body) while it is current.
                 * @example "x3mY9qLr0Zt1b8VwKc2PjA"
                 */
                "If-None-Match"?: components["parameters"]["IfNoneMatch"];
            };
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
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    ETag: components["headers"]["ETag"];
                    "Cache-Control": components["headers"]["CacheControl"];
                    "Last-Modified": components["headers"]["LastModified"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AgentEnvelope"];
                };
            };
            304: components["responses"]["NotModified"];
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    replaceAgent: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description The `ETag` of the version you read. The change is made only if the resource is still that version;
                 *     otherwise `412 RES_PRECONDITION_FAILED`, so two editors cannot overwrite each other.
                 * @example "x3mY9qLr0Zt1b8VwKc2PjA"
                 */
                "If-Match"?: components["parameters"]["IfMatch"];
            };
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
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AgentEnvelope"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            412: components["responses"]["PreconditionFailed"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            422: components["responses"]["UnprocessableEntity"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    deleteAgent: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description The `ETag` of the version you read. The change is made only if the resource is still that version;
                 *     otherwise `412 RES_PRECONDITION_FAILED`, so two editors cannot overwrite each other.
                 * @example "x3mY9qLr0Zt1b8VwKc2PjA"
                 */
                "If-Match"?: components["parameters"]["IfMatch"];
            };
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
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            412: components["responses"]["PreconditionFailed"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    updateAgent: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description The `ETag` of the version you read. The change is made only if the resource is still that version;
                 *     otherwise `412 RES_PRECONDITION_FAILED`, so two editors cannot overwrite each other.
                 * @example "x3mY9qLr0Zt1b8VwKc2PjA"
                 */
                "If-Match"?: components["parameters"]["IfMatch"];
            };
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
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AgentEnvelope"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            412: components["responses"]["PreconditionFailed"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            422: components["responses"]["UnprocessableEntity"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    rebootAgent: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description A key you choose (a UUID is a good one) to make a retry safe: the same key with the same request replays
                 *     the first answer (with `Idempotent-Replayed: true`) instead of doing the work again. Keys are scoped to the
                 *     caller and kept 24 hours. The same key with a different request is `422`; while the first is still in
                 *     flight, `409`.
                 * @example 5f0c2b1e-8a7d-4c3b-9e21-7d6a5b4c3d2e
                 */
                "Idempotency-Key"?: components["parameters"]["IdempotencyKey"];
            };
            path: {
                /**
                 * @description The agent's id.
                 * @example 0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d
                 */
                agent_id: components["parameters"]["AgentId"];
            };
            cookie?: never;
        };
        /** @description Options of an action on an agent. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["ActionRequest"];
            };
        };
        responses: {
            /** @description Accepted: the task was queued; `Location` is its status URL. */
            202: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    Location: components["headers"]["Location"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    "Idempotent-Replayed": components["headers"]["IdempotentReplayed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TaskAcceptedEnvelope"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            422: components["responses"]["UnprocessableEntity"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    shutdownAgent: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description A key you choose (a UUID is a good one) to make a retry safe: the same key with the same request replays
                 *     the first answer (with `Idempotent-Replayed: true`) instead of doing the work again. Keys are scoped to the
                 *     caller and kept 24 hours. The same key with a different request is `422`; while the first is still in
                 *     flight, `409`.
                 * @example 5f0c2b1e-8a7d-4c3b-9e21-7d6a5b4c3d2e
                 */
                "Idempotency-Key"?: components["parameters"]["IdempotencyKey"];
            };
            path: {
                /**
                 * @description The agent's id.
                 * @example 0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d
                 */
                agent_id: components["parameters"]["AgentId"];
            };
            cookie?: never;
        };
        /** @description Options of an action on an agent. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["ActionRequest"];
            };
        };
        responses: {
            /** @description Accepted: the task was queued; `Location` is its status URL. */
            202: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    Location: components["headers"]["Location"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    "Idempotent-Replayed": components["headers"]["IdempotentReplayed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TaskAcceptedEnvelope"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            422: components["responses"]["UnprocessableEntity"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    updateAgentSoftware: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description A key you choose (a UUID is a good one) to make a retry safe: the same key with the same request replays
                 *     the first answer (with `Idempotent-Replayed: true`) instead of doing the work again. Keys are scoped to the
                 *     caller and kept 24 hours. The same key with a different request is `422`; while the first is still in
                 *     flight, `409`.
                 * @example 5f0c2b1e-8a7d-4c3b-9e21-7d6a5b4c3d2e
                 */
                "Idempotency-Key"?: components["parameters"]["IdempotencyKey"];
            };
            path: {
                /**
                 * @description The agent's id.
                 * @example 0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d
                 */
                agent_id: components["parameters"]["AgentId"];
            };
            cookie?: never;
        };
        /** @description Which agent version to install, and the options of any action. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["UpdateAgentRequest"];
            };
        };
        responses: {
            /** @description Accepted: the task was queued; `Location` is its status URL. */
            202: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    Location: components["headers"]["Location"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    "Idempotent-Replayed": components["headers"]["IdempotentReplayed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TaskAcceptedEnvelope"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            422: components["responses"]["UnprocessableEntity"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    runAgentCommand: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description A key you choose (a UUID is a good one) to make a retry safe: the same key with the same request replays
                 *     the first answer (with `Idempotent-Replayed: true`) instead of doing the work again. Keys are scoped to the
                 *     caller and kept 24 hours. The same key with a different request is `422`; while the first is still in
                 *     flight, `409`.
                 * @example 5f0c2b1e-8a7d-4c3b-9e21-7d6a5b4c3d2e
                 */
                "Idempotency-Key"?: components["parameters"]["IdempotencyKey"];
            };
            path: {
                /**
                 * @description The agent's id.
                 * @example 0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d
                 */
                agent_id: components["parameters"]["AgentId"];
            };
            cookie?: never;
        };
        /** @description One program to run on the agent, with its arguments (no shell). */
        requestBody: {
            content: {
                "application/json": components["schemas"]["CommandRequest"];
            };
        };
        responses: {
            /** @description Accepted: the task was queued; `Location` is its status URL. */
            202: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    Location: components["headers"]["Location"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    "Idempotent-Replayed": components["headers"]["IdempotentReplayed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TaskAcceptedEnvelope"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            422: components["responses"]["UnprocessableEntity"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    listTasks: {
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
                 * @description Order by `created_at` (default `created_at:desc`) or `updated_at`, `asc` or `desc`; ties broken by `id`.
                 * @example created_at:desc
                 */
                sort?: components["parameters"]["TaskSort"];
                /**
                 * @description Only tasks in this status.
                 * @example running
                 */
                status?: components["parameters"]["TaskStatusFilter"];
                /**
                 * @description Only tasks of this type.
                 * @example reboot
                 */
                type?: components["parameters"]["TaskTypeFilter"];
                /**
                 * @description Only tasks of this agent.
                 * @example 0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d
                 */
                agent_id?: components["parameters"]["AgentIdFilter"];
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
            header?: {
                /**
                 * @description The `ETag` of a representation you hold; the answer is `304 Not Modified` (no body) while it is current.
                 * @example "x3mY9qLr0Zt1b8VwKc2PjA"
                 */
                "If-None-Match"?: components["parameters"]["IfNoneMatch"];
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of tasks. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    Link: components["headers"]["Link"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    ETag: components["headers"]["ETag"];
                    "Cache-Control": components["headers"]["CacheControl"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TaskListEnvelope"];
                };
            };
            304: components["responses"]["NotModified"];
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    getTask: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description The `ETag` of a representation you hold; the answer is `304 Not Modified` (no body) while it is current.
                 * @example "x3mY9qLr0Zt1b8VwKc2PjA"
                 */
                "If-None-Match"?: components["parameters"]["IfNoneMatch"];
            };
            path: {
                /**
                 * @description The task's id.
                 * @example 0192f1a0-1b2c-7d3e-8f40-5a6b7c8d9e0f
                 */
                task_id: components["parameters"]["TaskId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The task, as it now is. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    ETag: components["headers"]["ETag"];
                    "Cache-Control": components["headers"]["CacheControl"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TaskEnvelope"];
                };
            };
            304: components["responses"]["NotModified"];
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    listTaskLogs: {
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
            };
            header?: {
                /**
                 * @description The `ETag` of a representation you hold; the answer is `304 Not Modified` (no body) while it is current.
                 * @example "x3mY9qLr0Zt1b8VwKc2PjA"
                 */
                "If-None-Match"?: components["parameters"]["IfNoneMatch"];
            };
            path: {
                /**
                 * @description The task's id.
                 * @example 0192f1a0-1b2c-7d3e-8f40-5a6b7c8d9e0f
                 */
                task_id: components["parameters"]["TaskId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of log lines. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    Link: components["headers"]["Link"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    ETag: components["headers"]["ETag"];
                    "Cache-Control": components["headers"]["CacheControl"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TaskLogLineListEnvelope"];
                };
            };
            304: components["responses"]["NotModified"];
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    cancelTask: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The task's id.
                 * @example 0192f1a0-1b2c-7d3e-8f40-5a6b7c8d9e0f
                 */
                task_id: components["parameters"]["TaskId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The task, now cancelled. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TaskEnvelope"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    retryTask: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description A key you choose (a UUID is a good one) to make a retry safe: the same key with the same request replays
                 *     the first answer (with `Idempotent-Replayed: true`) instead of doing the work again. Keys are scoped to the
                 *     caller and kept 24 hours. The same key with a different request is `422`; while the first is still in
                 *     flight, `409`.
                 * @example 5f0c2b1e-8a7d-4c3b-9e21-7d6a5b4c3d2e
                 */
                "Idempotency-Key"?: components["parameters"]["IdempotencyKey"];
            };
            path: {
                /**
                 * @description The task's id.
                 * @example 0192f1a0-1b2c-7d3e-8f40-5a6b7c8d9e0f
                 */
                task_id: components["parameters"]["TaskId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Accepted: the new task was queued; `Location` is its status URL. */
            202: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    Location: components["headers"]["Location"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    "Idempotent-Replayed": components["headers"]["IdempotentReplayed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TaskAcceptedEnvelope"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            422: components["responses"]["UnprocessableEntity"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    listEnrollmentTokens: {
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
            };
            header?: {
                /**
                 * @description The `ETag` of a representation you hold; the answer is `304 Not Modified` (no body) while it is current.
                 * @example "x3mY9qLr0Zt1b8VwKc2PjA"
                 */
                "If-None-Match"?: components["parameters"]["IfNoneMatch"];
            };
            path: {
                /**
                 * @description The team's id.
                 * @example 0192f0a0-0000-7000-8000-00000000000a
                 */
                team_id: components["parameters"]["TeamId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of enrollment tokens. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    Link: components["headers"]["Link"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    ETag: components["headers"]["ETag"];
                    "Cache-Control": components["headers"]["CacheControl"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["EnrollmentTokenListEnvelope"];
                };
            };
            304: components["responses"]["NotModified"];
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    createEnrollmentToken: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description A key you choose (a UUID is a good one) to make a retry safe: the same key with the same request replays
                 *     the first answer (with `Idempotent-Replayed: true`) instead of doing the work again. Keys are scoped to the
                 *     caller and kept 24 hours. The same key with a different request is `422`; while the first is still in
                 *     flight, `409`.
                 * @example 5f0c2b1e-8a7d-4c3b-9e21-7d6a5b4c3d2e
                 */
                "Idempotency-Key"?: components["parameters"]["IdempotencyKey"];
            };
            path: {
                /**
                 * @description The team's id.
                 * @example 0192f0a0-0000-7000-8000-00000000000a
                 */
                team_id: components["parameters"]["TeamId"];
            };
            cookie?: never;
        };
        /** @description A new enrollment token. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["EnrollmentTokenCreate"];
            };
        };
        responses: {
            /** @description The token, with its secret. */
            201: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    Location: components["headers"]["Location"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    "Idempotent-Replayed": components["headers"]["IdempotentReplayed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["EnrollmentTokenCreatedEnvelope"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            422: components["responses"]["UnprocessableEntity"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    deleteEnrollmentToken: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The team's id.
                 * @example 0192f0a0-0000-7000-8000-00000000000a
                 */
                team_id: components["parameters"]["TeamId"];
                /**
                 * @description The enrollment token's id.
                 * @example 0192f1b0-2c3d-7e4f-8a50-6b7c8d9e0f1a
                 */
                token_id: components["parameters"]["EnrollmentTokenId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The token was revoked. */
            204: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    enrollAgent: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description A key you choose (a UUID is a good one) to make a retry safe: the same key with the same request replays
                 *     the first answer (with `Idempotent-Replayed: true`) instead of doing the work again. Keys are scoped to the
                 *     caller and kept 24 hours. The same key with a different request is `422`; while the first is still in
                 *     flight, `409`.
                 * @example 5f0c2b1e-8a7d-4c3b-9e21-7d6a5b4c3d2e
                 */
                "Idempotency-Key"?: components["parameters"]["IdempotencyKey"];
            };
            path?: never;
            cookie?: never;
        };
        /** @description A host asking to join its team's fleet, with what it knows about itself. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["EnrollRequest"];
            };
        };
        responses: {
            /** @description The agent and its key. */
            201: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    Location: components["headers"]["Location"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    "Idempotent-Replayed": components["headers"]["IdempotentReplayed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["EnrollmentEnvelope"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            409: components["responses"]["Conflict"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            422: components["responses"]["UnprocessableEntity"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    agentHeartbeat: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The agent's state. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["HeartbeatEnvelope"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    claimTasks: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description How many pending tasks the agent will take now. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["ClaimRequest"];
            };
        };
        responses: {
            /** @description The tasks claimed (possibly none). */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TaskListEnvelope"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            422: components["responses"]["UnprocessableEntity"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    reportTaskProgress: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The task's id.
                 * @example 0192f1a0-1b2c-7d3e-8f40-5a6b7c8d9e0f
                 */
                task_id: components["parameters"]["TaskId"];
            };
            cookie?: never;
        };
        /** @description An agent's report on a task it claimed; `status` ends it. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["TaskProgressReport"];
            };
        };
        responses: {
            /** @description The task, as it now is. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TaskEnvelope"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            422: components["responses"]["UnprocessableEntity"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    getSystemVersion: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description The `ETag` of a representation you hold; the answer is `304 Not Modified` (no body) while it is current.
                 * @example "x3mY9qLr0Zt1b8VwKc2PjA"
                 */
                "If-None-Match"?: components["parameters"]["IfNoneMatch"];
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Version information. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    ETag: components["headers"]["ETag"];
                    "Cache-Control": components["headers"]["CacheControl"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["VersionEnvelope"];
                };
            };
            304: components["responses"]["NotModified"];
            400: components["responses"]["BadRequest"];
            429: components["responses"]["TooManyRequests"];
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
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
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
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
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
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
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
