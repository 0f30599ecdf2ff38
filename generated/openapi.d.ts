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
         * @deprecated
         * @description > **Deprecated** since 2026-11-21 00:00:00 UTC. **Sunset: 2027-06-30 23:59:59 UTC**; from then on it answers `410 Gone` (`RES_GONE`). Use `listAgentsV2` (`GET /api/v2/agents`) instead.
         *
         *     Lists the fleet's agents, newest first unless `sort` says otherwise.
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
    "/api/v2/agents": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List agents with groups and health
         * @description The agent list of API v2, "enhanced with grouping": each agent comes with the agent groups it belongs to
         *     (`groups`, `[{ id, name }]`) and a `health_score` from 0 to 100 (the rule is under `AgentHealthScore`),
         *     and the answer carries a `summary` of every agent the filters match, across all pages: the total, the
         *     counts by status and how many distinct groups those agents are in. It succeeds the deprecated
         *     `listAgents` (`GET /api/v1/agents`).
         *
         *     Paging, sorting and filters are those of `listAgents`: **offset mode** (default, `limit` and `offset`,
         *     counted) or **cursor mode** (`cursor`, empty for the first page, then `pagination.next_cursor`). The
         *     `summary` is computed in both modes; it is cached and invalidated by every change to the teams' agents
         *     and group memberships, so it is never stale. Items are always complete (there is no `fields`).
         */
        get: operations["listAgentsV2"];
        put?: never;
        post?: never;
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
         * @description Counts the agents of the caller's teams (or of one, with `team_id`; or of one agent group, with `group_id`) by status and by platform. The counts are cached and invalidated by every change to those agents, so they are never stale.
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
    "/api/v1/agents/{agent_id}/tasks": {
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
         * List an agent's tasks
         * @description The agent's tasks, newest first, with the objects and filters of `listTasks` (its own actions' tasks and its children of fleet tasks). Another team's agent is 404.
         */
        get: operations["listAgentTasks"];
        put?: never;
        /**
         * Create a task for an agent
         * @description Queues any action on the agent, as `rebootAgent`, `shutdownAgent`, `updateAgentSoftware` and `runAgentCommand` queue theirs, and answers the same way. An offline agent is refused with 409 BIZ_AGENT_OFFLINE unless `queue_if_offline` asks to run it when the agent returns.
         */
        post: operations["createAgentTask"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
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
    "/api/v1/agent-groups": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List agent groups
         * @description The agent groups of the caller's teams (or of one, with `team_id`), by name unless `sort` says otherwise. Offset mode by default; send `cursor` (empty for the first page) for cursor mode.
         */
        get: operations["listAgentGroups"];
        put?: never;
        /**
         * Create an agent group
         * @description Creates an empty group in one of the caller's teams. Its name must not be taken in that team (regardless of case): 409 `RES_ALREADY_EXISTS`. `team_id` may be left out when the caller belongs to exactly one team.
         */
        post: operations["createAgentGroup"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/agent-groups/{group_id}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The agent group's id.
                 * @example 0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60
                 */
                group_id: components["parameters"]["AgentGroupId"];
            };
            cookie?: never;
        };
        /**
         * Get an agent group
         * @description One of the caller's teams' agent groups, with how many agents it holds.
         */
        get: operations["getAgentGroup"];
        put?: never;
        post?: never;
        /**
         * Delete an agent group
         * @description Deletes a group and its memberships; the agents themselves are untouched. With `If-Match`, only the version read is deleted (412 otherwise).
         */
        delete: operations["deleteAgentGroup"];
        options?: never;
        head?: never;
        /**
         * Update an agent group
         * @description Renames or re-describes a group (JSON merge patch: a present key sets, `null` clears the description). A name taken in the team is refused with 409. With `If-Match`, only the version read is changed (412 otherwise).
         */
        patch: operations["updateAgentGroup"];
        trace?: never;
    };
    "/api/v1/agent-groups/{group_id}/members": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The agent group's id.
                 * @example 0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60
                 */
                group_id: components["parameters"]["AgentGroupId"];
            };
            cookie?: never;
        };
        /**
         * List the agents of a group
         * @description The agents that belong to the group, newest first unless `sort` says otherwise; the same as `listAgents` with `group_id`. Offset mode by default; send `cursor` for cursor mode.
         */
        get: operations["listAgentGroupMembers"];
        put?: never;
        /**
         * Add agents to a group
         * @description Adds up to 500 agents to the group at once. Every agent must be one of the group's team's: otherwise nothing is added and the answer is 422 `BIZ_AGENT_NOT_IN_TEAM`, with one detail per refused id. Adding an agent that is already a member changes nothing, so the request is safe to repeat.
         */
        post: operations["addAgentGroupMembers"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/agent-groups/{group_id}/members/{agent_id}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The agent group's id.
                 * @example 0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60
                 */
                group_id: components["parameters"]["AgentGroupId"];
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
        post?: never;
        /**
         * Remove an agent from a group
         * @description Takes one agent out of the group; the agent itself is untouched. An agent that is not a member is answered 404.
         */
        delete: operations["removeAgentGroupMember"];
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
         * @description The tasks of the caller's teams, newest first: agents' tasks, fleet tasks (`kind=fleet`) and their children (`parent_id`).
         */
        get: operations["listTasks"];
        put?: never;
        /**
         * Run an action on many agents
         * @description Creates a fleet task: one parent task (`kind: fleet`, no agent) and, in the same transaction, one child task
         *     per agent of `target` (a list of agents, an agent group or a filter, resolved once, now, within the task's
         *     team). At most `concurrency` children are claimable at a time; each child that ends lets the next one go.
         *     The parent's `fleet.counts` follow its children, and its `status` goes `pending` → `running` (at the first
         *     claim) → `succeeded` (every child succeeded or was skipped as offline), `failed` (a child failed, or failures
         *     reached `failure_threshold_percent`, which stops the rollout: the children not started are cancelled) or
         *     `cancelled` (`cancelTask` on the parent cancels the children not started; running ones finish and are
         *     counted). Agents offline now are skipped (their children `cancelled`, counted `skipped_offline`) unless
         *     `queue_if_offline`. Watch the parent with `getTask`, its children with `listTasks?parent_id=…`.
         */
        post: operations["createTask"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/tasks/schedules": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List task schedules
         * @description The task schedules of the caller's teams (or of one, with `team_id`; only enabled or disabled ones, with `enabled`), by name unless `sort` says otherwise, each with its next due times and its last execution. Offset mode by default; send `cursor` (empty for the first page) for cursor mode.
         */
        get: operations["listTaskSchedules"];
        put?: never;
        /**
         * Create a task schedule
         * @description Creates a schedule in one of the caller's teams. Its name must not be taken in that team (regardless of case):
         *     409 `RES_ALREADY_EXISTS`. The cron expression and the time zone are checked at once (422 `VAL_INVALID_FORMAT`
         *     naming `cron` or `timezone`); `run` is checked against the fleet-wide task request's schema now (it may name no
         *     other team than the schedule's: 422 `VAL_ERROR` naming `run.team_id`), and resolved at
         *     each due time (its target within the schedule's team, its template at its then version), so a target that finds
         *     no agent or a template deleted since gives a `failed` execution, not an error here. Each firing creates its task
         *     in the name of the schedule's creator.
         */
        post: operations["createTaskSchedule"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/tasks/schedules/{schedule_id}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The schedule's id.
                 * @example 0192f3c0-5d6e-7f80-9a1b-2c3d4e5f6a7b
                 */
                schedule_id: components["parameters"]["TaskScheduleId"];
            };
            cookie?: never;
        };
        /**
         * Get a task schedule
         * @description One of the caller's teams' task schedules, with its next due times and its last execution.
         */
        get: operations["getTaskSchedule"];
        put?: never;
        post?: never;
        /**
         * Delete a task schedule
         * @description Deletes a schedule and its executions; the tasks it created stay. With `If-Match`, only the version read is deleted (412 otherwise).
         */
        delete: operations["deleteTaskSchedule"];
        options?: never;
        head?: never;
        /**
         * Update a task schedule
         * @description Changes a schedule (JSON merge patch: a present key sets, `null` clears the description, `run` is replaced as a
         *     whole). A changed `cron` or `timezone`, or `enabled: true`, recomputes the next due time from now; the due times
         *     of a disabled schedule are never fired later. A name taken in the team is refused with 409, a bad cron expression
         *     or time zone, or a `run` naming another team, with 422. With `If-Match`, only the version read is changed (412 otherwise).
         */
        patch: operations["updateTaskSchedule"];
        trace?: never;
    };
    "/api/v1/tasks/schedules/{schedule_id}/executions": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The schedule's id.
                 * @example 0192f3c0-5d6e-7f80-9a1b-2c3d4e5f6a7b
                 */
                schedule_id: components["parameters"]["TaskScheduleId"];
            };
            cookie?: never;
        };
        /**
         * List a schedule's executions
         * @description The executions of one of the caller's teams' schedules, latest due time first unless `sort` says otherwise: one
         *     per due time the schedule reached, however many server processes ran (`fired` with the fleet-wide task it
         *     created, `skipped_missed`, or `failed` with the reason). Offset mode by default; send `cursor` (empty for the
         *     first page) for cursor mode.
         */
        get: operations["listTaskScheduleExecutions"];
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
    "/api/v1/tasks/{task_id}/artifacts": {
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
         * List task artifacts
         * @description The files the task's agent uploaded for it (their metadata), in the order they were uploaded.
         */
        get: operations["listTaskArtifacts"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/tasks/{task_id}/artifacts/{artifact_id}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The task's id.
                 * @example 0192f1a0-1b2c-7d3e-8f40-5a6b7c8d9e0f
                 */
                task_id: components["parameters"]["TaskId"];
                /**
                 * @description The artifact's id.
                 * @example 0192f1b0-4d5e-7f60-8a1b-2c3d4e5f6a7b
                 */
                artifact_id: components["parameters"]["ArtifactId"];
            };
            cookie?: never;
        };
        /**
         * Download a task artifact
         * @description The artifact's bytes, as uploaded, with its recorded media type as `Content-Type` and its name in
         *     `Content-Disposition` (`attachment`). The `ETag` is strong (from the SHA-256 of the bytes, which never change):
         *     `If-None-Match` with it is `304`, and so is `If-Modified-Since` with its `Last-Modified` (the upload's time).
         *     One byte range (`Range: bytes=…`) is `206` with `Content-Range` (`If-Range` makes it conditional on the ETag);
         *     a range that starts beyond the end is `416`. An artifact of a task of another team is `404`.
         */
        get: operations["downloadTaskArtifact"];
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
         * @description Cancels a pending or running task (a running agent learns it at its next report). A fleet task is cancelled with its children that have not started (running ones finish, and are counted); a child of a fleet task is counted cancelled in it, and the next child of the rollout goes. A finished task is refused with 409 BIZ_TASK_FINISHED.
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
         * @description Queues a new task with the same type and parameters as a failed or cancelled one. A pending or running task is refused with 409 BIZ_TASK_ALREADY_RUNNING, a succeeded one with 409 BIZ_TASK_NOT_RETRYABLE. A fleet task is not retried as a whole (409 BIZ_FLEET_TASK_NOT_RETRYABLE); retry its failed children, each of which becomes an agent's task of its own (outside the fleet task, whose counts stay as they were), or create a new fleet task.
         */
        post: operations["retryTask"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/tasks/templates": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List task templates
         * @description The task templates of the caller's teams (or of one, with `team_id`), each at its current version, by name unless `sort` says otherwise; `search` matches names and `action` keeps one kind of action. Offset mode by default; send `cursor` (empty for the first page) for cursor mode.
         */
        get: operations["listTaskTemplates"];
        put?: never;
        /**
         * Create a task template
         * @description Creates a template, at version 1, in one of the caller's teams. Its name must not be taken in that team (regardless of case): 409 `RES_ALREADY_EXISTS`. `parameters_schema` must be a JSON Schema (draft 2020-12) the server can compile, else 422 `VAL_INVALID_SCHEMA`. `team_id` may be left out when the caller belongs to exactly one team.
         */
        post: operations["createTaskTemplate"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/tasks/templates/{template_id}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The task template's id.
                 * @example 0193a1c0-7d2e-7f10-9a4b-5c6d7e8f9a01
                 */
                template_id: components["parameters"]["TaskTemplateId"];
            };
            cookie?: never;
        };
        /**
         * Get a task template
         * @description One of the caller's teams' task templates, at its current version (`listTaskTemplateVersions` has the earlier ones).
         */
        get: operations["getTaskTemplate"];
        put?: never;
        post?: never;
        /**
         * Delete a task template
         * @description Deletes a template: it can no longer be read, changed or run, and its name is free again. Its versions are kept, so the tasks that ran it still name the template and version they ran. With `If-Match`, only the version read is deleted (412 otherwise).
         */
        delete: operations["deleteTaskTemplate"];
        options?: never;
        head?: never;
        /**
         * Update a task template
         * @description Changes a template (JSON merge patch: a present key sets, `null` clears the description; `defaults` and `parameters_schema` are replaced as a whole) and makes a new version; the earlier versions are kept and tasks keep the version they ran. A patch that changes nothing makes no version. A name taken in the team is refused with 409, a schema the server cannot compile with 422 `VAL_INVALID_SCHEMA`. With `If-Match`, only the version read is changed (412 otherwise).
         */
        patch: operations["updateTaskTemplate"];
        trace?: never;
    };
    "/api/v1/tasks/templates/{template_id}/versions": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The task template's id.
                 * @example 0193a1c0-7d2e-7f10-9a4b-5c6d7e8f9a01
                 */
                template_id: components["parameters"]["TaskTemplateId"];
            };
            cookie?: never;
        };
        /**
         * List the versions of a task template
         * @description Every version of one of the caller's teams' task templates, as each was made, newest first unless `sort` says otherwise. Offset mode by default; send `cursor` (empty for the first page) for cursor mode.
         */
        get: operations["listTaskTemplateVersions"];
        put?: never;
        post?: never;
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
         * @description A host joins the fleet of the team whose enrollment token it presents, and receives its own agent
         *     key (shown once). A host that enrols again under the same hostname gets a new key for the same agent.
         *
         *     Limited per enrollment token (the `enrollment` limiter of `x-rate-limits`), not per client address: the
         *     hosts of an autoscaling group booting behind one NAT gateway enrol in a burst. A malformed or refused token
         *     also spends from the client address's `anonymous` bucket.
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
         * @description The agent says it is alive: `last_seen` is now and it is `online` (unless in maintenance). An agent
         *     silent for longer than the heartbeat timeout turns `offline` and its running tasks fail.
         *
         *     The server writes the heartbeats of many agents together, so a busy fleet costs little more than a quiet one.
         *     An agent's first heartbeat to a server process is answered once it is stored; later ones are answered at once,
         *     with the status and pending tasks the agent's previous write returned, while the write joins the next batch.
         *     That answer is current: a task created for the agent or a change of its status makes the next heartbeat read
         *     them again (within 1 s across processes). `last_seen` is when the heartbeat arrived and is readable once its
         *     batch is written (normally within tens of milliseconds; while the database is slow, later, and heartbeats then
         *     wait for their writes). An acknowledged heartbeat is written even when a batch fails (it is written again) or
         *     the server stops gracefully. An agent with `pending_tasks: 0` need not claim.
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
         * @description Hands the agent up to `max_tasks` of its pending tasks, oldest first, and marks them running. Row locks (`FOR UPDATE SKIP LOCKED`) make every task go to exactly one claim, even across server processes. Counts as a heartbeat; an agent with no pending task gets an empty list for the cost of a heartbeat, so polling for work is cheap.
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
    "/api/v1/agent/tasks/{task_id}/artifacts": {
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
         * Upload a task artifact
         * @description The agent uploads a file its task produced (a log, a report, a core dump) as the raw body, under a file name
         *     unique within the task (`name`). The body is streamed into storage as it arrives, its SHA-256 computed on the
         *     way, and its `Content-Type` recorded as the artifact's media type (`x-artifacts` gives the accepted pattern and
         *     the other limits; without a `Content-Type` the artifact is `application/octet-stream`).
         *
         *     Only the task's own agent may upload: any other task, including another agent's of the same team, is `404`.
         *     A body larger than `ArtifactContent`'s `maxLength` is `413` (refused before it is read when `Content-Length`
         *     says so, cut off when it is sent without a length); a name the task already has is `409 RES_ALREADY_EXISTS` (artifacts
         *     are never replaced, so a retried upload cannot change what was already downloaded: compare `sha256`);
         *     a task with `x-artifacts.max_per_task` artifacts is `409 BIZ_TASK_ARTIFACT_LIMIT`. A refused or interrupted
         *     upload stores nothing.
         */
        post: operations["uploadTaskArtifact"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/agent/inventory": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        /**
         * Report inventory
         * @description The agent reports its whole inventory: installed packages, system services and hardware facts. The report replaces the previous one at once (readers never see half of it) and counts as a heartbeat. A package repeated with the same name, version, architecture and ecosystem (its own or its system's), or a service repeated by name, is refused with 422.
         */
        put: operations["reportInventory"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/agent/metrics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Report metrics
         * @description The agent reports a batch of metric samples. A sample of a metric at a time already reported replaces the earlier one, so a batch can be sent again safely. A `*_usage` value above 100, or a time more than 5 minutes ahead of the server, is refused with 422. Counts as a heartbeat.
         */
        post: operations["reportMetrics"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/agents/{agent_id}/packages": {
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
         * List an agent's packages
         * @description The packages of one of the caller's agents as of its last inventory report, by name. Filter by name (`name`, `search`), installed version (`version_gt`, `version_lt`) and whether an update is available (`has_update`).
         */
        get: operations["listAgentPackages"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/agents/{agent_id}/services": {
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
         * List an agent's services
         * @description The system services of one of the caller's agents as of its last inventory report, by name.
         */
        get: operations["listAgentServices"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/agents/{agent_id}/hardware": {
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
         * Get an agent's hardware
         * @description The hardware facts of one of the caller's agents as of its last inventory report. An agent that has not reported an inventory yet answers 404, like an unknown agent (with another message).
         */
        get: operations["getAgentHardware"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/agents/{agent_id}/metrics": {
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
         * Get an agent's metrics
         * @description One metric of one of the caller's agents between `start_date` and `end_date`, aggregated into buckets of `bucket` width with `aggregate`. A range that is empty, longer than 31 days or of more than 1,440 buckets is refused with 400.
         */
        get: operations["getAgentMetrics"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/inventory/packages/search": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Search packages across the fleet
         * @description Every installed package matching `name` (exact) or `search` (name contains, any case) on the agents of the caller's teams, one item per agent and package. At least one of `name` and `search` is required (400 otherwise). Narrow by installed version (`version_gt`, `version_lt`), `has_update` and `team_id`.
         */
        get: operations["searchPackages"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/inventory/packages/updates": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List package updates
         * @description The installed package versions that have a newer version available, across the agents of the caller's teams, each with how many agents have it: what patching would change. Most widespread first by default.
         */
        get: operations["listPackageUpdates"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/metrics/query": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Query metrics across the fleet
         * @description Aggregates one or more metrics of the caller's teams' agents (narrowed by `filter`, with the filters of
         *     `listAgents`) between `from` and `to`, per `step` bucket aligned to the UTC clock, and per `group_by` (the whole
         *     fleet, agent, agent group, platform or a label's value). A read: nothing is changed or recorded in the audit log,
         *     and sending it again is safe (no `Idempotency-Key`). Bounded by the root's `x-metrics` policy: a range longer
         *     than `query_max_range_days`, a step outside `query_min_step_seconds`–`query_max_step_seconds` or an answer of
         *     more than `query_max_points` points is refused with 422 `VAL_QUERY_TOO_LARGE`. Another team's agents never
         *     count, even when named in `filter.agent_ids`.
         */
        post: operations["queryMetrics"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/metrics/dashboards": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List dashboards
         * @description The dashboards of the caller's teams (or of one, with `team_id`), by name unless `sort` says otherwise. Offset mode by default; send `cursor` (empty for the first page) for cursor mode.
         */
        get: operations["listDashboards"];
        put?: never;
        /**
         * Create a dashboard
         * @description Saves a dashboard in one of the caller's teams. Its name must not be taken in that team (regardless of case): 409 `RES_ALREADY_EXISTS`. `team_id` may be left out when the caller belongs to exactly one team. Each panel's query is checked like a `queryMetrics` body (422 beyond the `x-metrics` bounds, with the panel named).
         */
        post: operations["createDashboard"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/metrics/dashboards/{dashboard_id}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The dashboard's id.
                 * @example 0192f3c0-1a2b-7c3d-8e4f-5a6b7c8d9e0f
                 */
                dashboard_id: components["parameters"]["DashboardId"];
            };
            cookie?: never;
        };
        /**
         * Get a dashboard
         * @description One of the caller's teams' dashboards, with its panels and version.
         */
        get: operations["getDashboard"];
        put?: never;
        post?: never;
        /**
         * Delete a dashboard
         * @description Deletes a dashboard. With `If-Match`, only the version read is deleted (412 otherwise).
         */
        delete: operations["deleteDashboard"];
        options?: never;
        head?: never;
        /**
         * Update a dashboard
         * @description Renames, re-describes or re-lays out a dashboard (JSON merge patch: a present key sets, `null` clears the description, `panels` replaces all panels). A name taken in the team is refused with 409. Every change adds one to `version`. With `If-Match`, only the version read is changed (412 otherwise).
         */
        patch: operations["updateDashboard"];
        trace?: never;
    };
    "/api/v1/metrics/dashboards/{dashboard_id}/data": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The dashboard's id.
                 * @example 0192f3c0-1a2b-7c3d-8e4f-5a6b7c8d9e0f
                 */
                dashboard_id: components["parameters"]["DashboardId"];
            };
            cookie?: never;
        };
        /**
         * Answer a dashboard's queries
         * @description Runs every panel's query as `queryMetrics` would now, within the caller's teams, and answers them in the dashboard's order. A panel whose answer would be past the `x-metrics` bounds (more than `query_max_points` points) refuses the whole request with 422 `VAL_QUERY_TOO_LARGE`, naming the panel (`panels.<i>.query`).
         */
        get: operations["getDashboardData"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/inventory/packages/vulnerabilities": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List vulnerable packages
         * @description The installed packages of the caller's teams' agents that an imported advisory (`importAdvisories`) affects:
         *     one item per agent, package and advisory, with the advisory's severity, ids and the versions that fix it.
         *     Most severe first by default. Filter by `severity`, `agent_id`, `advisory_id` (an id or an alias), package
         *     `name`, `ecosystem` and `team_id`.
         *
         *     A package is affected when the advisory names its ecosystem (see `PackageEcosystem`) and name, and its
         *     version is listed in the advisory's `versions` or falls in one of its `ranges`: at or above an `introduced`
         *     version and below the next `fixed` one (a version equal to `fixed` is not affected), or at or below a
         *     `last_affected` one. Versions compare as their ecosystem does: SemVer for npm and `SEMVER` ranges, PEP 440
         *     for PyPI, dpkg's order for Debian and Ubuntu; `ECOSYSTEM` ranges of other ecosystems are not compared (their
         *     explicit `versions` still match). The list follows every inventory report and every import at once: matches
         *     are stored when either arrives. Withdrawn advisories match nothing.
         */
        get: operations["listPackageVulnerabilities"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/inventory/packages/vulnerabilities/advisories": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Import security advisories
         * @description Imports up to 500 advisories in the OSV format (https://ossf.github.io/osv-schema/) and matches them against
         *     the packages every agent of every team reports; `listPackageVulnerabilities` then shows each team its own.
         *     Advisories are global, so this is an administrator's operation (`admin:advisories`).
         *
         *     An advisory is kept by its `id`: a new id is `created`; a stored one is replaced (`updated`) only by a
         *     document with a later `modified`, else it is `unchanged`, so importing the same documents again changes
         *     nothing. A `withdrawn` advisory is kept but matches no package.
         *
         *     The request is taken whole or not at all: a document that breaks `OsvAdvisory`, repeats an id of the same
         *     request, or whose ranges do not make sense (no `introduced` event, a `SEMVER` version that is not SemVer, an
         *     npm, PyPI, Debian or Ubuntu version its ecosystem cannot read) is refused with `422`, one detail per problem
         *     naming the document and field (`advisories.3.affected.0.ranges.0.events.1.fixed`), and nothing is stored.
         *     More than 500 documents is `422`; a body over the server's body limit (1 MiB by default) is `413`.
         */
        post: operations["importAdvisories"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/agents/{agent_id}/vulnerabilities": {
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
         * List an agent's vulnerable packages
         * @description The installed packages of one of the caller's agents that an imported advisory affects, as `listPackageVulnerabilities` finds them, with the same filters and order. Another team's agent is 404.
         */
        get: operations["listAgentVulnerabilities"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/deployments": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List deployments
         * @description The deployments of the caller's teams, newest first; filter by environment, status, service, team and creation time.
         */
        get: operations["listDeployments"];
        put?: never;
        /**
         * Create a deployment
         * @description Records a new deployment of a service version to an environment; it starts `pending`, and its `previous_version` is the version of the service's last succeeded deployment in that environment. The deploying system reports progress with `updateDeployment`.
         */
        post: operations["createDeployment"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/deployments/{deployment_id}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The deployment's id.
                 * @example 0192f2b0-5c6d-7e8f-9a0b-1c2d3e4f5a6b
                 */
                deployment_id: components["parameters"]["DeploymentId"];
            };
            cookie?: never;
        };
        /**
         * Get a deployment
         * @description One deployment with its state and timings.
         */
        get: operations["getDeployment"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        /**
         * Update a deployment
         * @description Moves a deployment along `pending` → `running` → `succeeded` or `failed` (JSON merge patch); `started_at`, `finished_at` and `duration_seconds` are set as it goes. Any other change is refused with 409 BIZ_DEPLOYMENT_INVALID_TRANSITION. When a rollback deployment succeeds, the deployment it rolls back becomes `rolled_back`.
         */
        patch: operations["updateDeployment"];
        trace?: never;
    };
    "/api/v1/deployments/{deployment_id}/rollback": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The deployment's id.
                 * @example 0192f2b0-5c6d-7e8f-9a0b-1c2d3e4f5a6b
                 */
                deployment_id: components["parameters"]["DeploymentId"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Roll a deployment back
         * @description Starts a rollback: a new deployment of the `previous_version` of the same service in the same environment, linked by `rollback_of`, which starts `pending` and is driven like any deployment. When it succeeds, the deployment rolled back becomes `rolled_back`. Only a succeeded or failed deployment with a previous version can be rolled back (409 BIZ_DEPLOYMENT_NOT_ROLLBACKABLE), and only once at a time (409 BIZ_ROLLBACK_IN_PROGRESS). The optional `reason` and `requested_by` are kept on the rollback deployment, and `deployment.rollback_requested` announces it with them, for the CD systems that wait for it.
         */
        post: operations["rollbackDeployment"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/pipelines": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List pipelines
         * @description The pipelines of the caller's teams, newest first; filter by status, team and a search of name and repository.
         */
        get: operations["listPipelines"];
        put?: never;
        /**
         * Create a pipeline
         * @description Creates a pipeline in one of the caller's teams. Its name is unique within the team (409 RES_ALREADY_EXISTS).
         */
        post: operations["createPipeline"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/pipelines/bulk": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        /**
         * Update pipelines in bulk
         * @description Sets `set` on every pipeline of the caller's teams that `filter` matches, in one statement, and answers how many matched and how many actually changed (a pipeline that already had the value is matched, not updated). The filter needs at least one condition.
         */
        patch: operations["updatePipelines"];
        trace?: never;
    };
    "/api/v1/pipelines/{pipeline_id}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The pipeline's id.
                 * @example 0192f3a0-2b3c-7d4e-8f50-6a7b8c9d0e1f
                 */
                pipeline_id: components["parameters"]["PipelineId"];
            };
            cookie?: never;
        };
        /**
         * Get a pipeline
         * @description One pipeline and the status of its last run.
         */
        get: operations["getPipeline"];
        put?: never;
        post?: never;
        /**
         * Delete a pipeline
         * @description Deletes the pipeline and its runs. With `If-Match`, only if it is still the version read.
         */
        delete: operations["deletePipeline"];
        options?: never;
        head?: never;
        /**
         * Update a pipeline
         * @description Changes some fields of the pipeline (JSON merge patch). With `If-Match`, only if it is still the version read.
         */
        patch: operations["updatePipeline"];
        trace?: never;
    };
    "/api/v1/pipelines/{pipeline_id}/runs": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The pipeline's id.
                 * @example 0192f3a0-2b3c-7d4e-8f50-6a7b8c9d0e1f
                 */
                pipeline_id: components["parameters"]["PipelineId"];
            };
            cookie?: never;
        };
        /**
         * List pipeline runs
         * @description The runs of one pipeline, latest first.
         */
        get: operations["listPipelineRuns"];
        put?: never;
        /**
         * Run a pipeline
         * @description Queues a run of an `active` pipeline on a commit, numbered after the last one; the pipeline's `last_run_status` becomes `queued`. A paused or disabled pipeline is refused with 409 BIZ_PIPELINE_NOT_ACTIVE. The run is a resource at once (201, `Location`); the CI runner reports its progress with `updatePipelineRun`.
         */
        post: operations["createPipelineRun"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/pipelines/{pipeline_id}/runs/{run_id}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The pipeline's id.
                 * @example 0192f3a0-2b3c-7d4e-8f50-6a7b8c9d0e1f
                 */
                pipeline_id: components["parameters"]["PipelineId"];
                /**
                 * @description The run's id.
                 * @example 0192f3b1-3c4d-7e5f-8a61-7b8c9d0e1f2a
                 */
                run_id: components["parameters"]["PipelineRunId"];
            };
            cookie?: never;
        };
        /**
         * Get a pipeline run
         * @description One run of a pipeline.
         */
        get: operations["getPipelineRun"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        /**
         * Update a pipeline run
         * @description Moves a run along `queued` → `running` → `succeeded` or `failed`, or to `cancelled` from queued or running (JSON merge patch); the timings follow, and the pipeline's `last_run_status` follows its latest run. Any other change is refused with 409 BIZ_PIPELINE_RUN_INVALID_TRANSITION.
         */
        patch: operations["updatePipelineRun"];
        trace?: never;
    };
    "/api/v1/alerts": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List alerts
         * @description The alerts of the caller's teams, newest first unless `sort` says otherwise (`severity:desc` puts critical ones first).
         */
        get: operations["listAlerts"];
        put?: never;
        /**
         * Raise an alert
         * @description Raises an alert in one of the caller's teams, `open`. `agent_id` must be an agent of the caller's teams (else 404), of `team_id` when both are given (else 422); `team_id` may be left out when `agent_id` names the agent or the caller belongs to exactly one team. A `fingerprint` that an unresolved alert of the team already has is refused with 409 `RES_ALREADY_EXISTS`. To raise many at once, use `createAlerts`.
         */
        post: operations["createAlert"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/alerts/bulk": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Raise alerts in bulk
         * @description Raises up to 1,000 alerts in one request and answers, item by item, what became of each: `{ created, failed, results }`, with `results` in the order of the request's `alerts`. One bad item never loses the good ones, and nothing of a failed item is stored.
         *
         *     **Refused as a whole** (nothing created): a body whose shape breaks `AlertBulkCreate` — no `alerts`, none or more than 1,000 of them, an item that is not an object, an unknown field, a field that is an object or an array or is longer than its limit — is `422` (numbers, booleans and `null` are taken as their text, as in every body of this API, and then checked with the item); a body over the server's size limit is `413`.
         *
         *     **Failed item by item** (the others are created): an item that breaks the rest of `AlertCreate` (`title` or `severity` missing, a `severity` other than `info`, `warning`, `critical`, an id that is not a UUID, an empty `title`, a `source` outside its pattern: `VAL_*` codes), a `team_id` that is not one of the caller's teams or an `agent_id` that is not an agent of the caller's teams (`RES_NOT_FOUND`), an agent of another team than `team_id`, or no `team_id` from a caller of several teams (`VAL_*`), a `fingerprint` taken by an unresolved alert of the team or by an earlier item of the same request (`RES_ALREADY_EXISTS`), and an item the database refuses when it is stored.
         *
         *     The good items are stored in batches of 200, each batch in its own savepoint of one transaction; when the database refuses a batch, that batch is retried item by item, so only the item at fault fails. If the database becomes unavailable meanwhile, the answer is `503` and nothing of the request is stored, so the request can simply be sent again. With an `Idempotency-Key`, a repeated request replays the first answer.
         */
        post: operations["createAlerts"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/alerts/{alert_id}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The alert's id.
                 * @example 0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60
                 */
                alert_id: components["parameters"]["AlertId"];
            };
            cookie?: never;
        };
        /**
         * Get an alert
         * @description One alert of the caller's teams.
         */
        get: operations["getAlert"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/alerts/{alert_id}/acknowledge": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The alert's id.
                 * @example 0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60
                 */
                alert_id: components["parameters"]["AlertId"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Acknowledge an alert
         * @description Says that someone is on it: an `open` alert becomes `acknowledged`, with the caller as `acknowledged_by`. An alert already acknowledged is refused with 409 `BIZ_ALERT_ALREADY_ACKNOWLEDGED`, a resolved one with 409 `BIZ_ALERT_RESOLVED`.
         */
        post: operations["acknowledgeAlert"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/alerts/{alert_id}/resolve": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The alert's id.
                 * @example 0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60
                 */
                alert_id: components["parameters"]["AlertId"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Resolve an alert
         * @description Closes an `open` or `acknowledged` alert: it becomes `resolved`, with the caller as `resolved_by`, and its `fingerprint` is free for a new alert. An alert already resolved is refused with 409 `BIZ_ALERT_RESOLVED`.
         */
        post: operations["resolveAlert"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/metrics/alerts/rules": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List alert rules
         * @description The alert rules of the caller's teams (or of one, with `team_id`), newest first unless `sort` says otherwise. Offset mode by default; send `cursor` (empty for the first page) for cursor mode.
         */
        get: operations["listAlertRules"];
        put?: never;
        /**
         * Create an alert rule
         * @description Creates a rule in one of the caller's teams; it is evaluated from the next evaluation interval on. `scope.agent_id` and `scope.group_id` must name an agent or group of that team (404 otherwise). `team_id` may be left out when the caller belongs to exactly one team.
         */
        post: operations["createAlertRule"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/metrics/alerts/rules/{rule_id}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The alert rule's id.
                 * @example 0192f4a0-1b2c-7d3e-8f40-5a6b7c8d9e01
                 */
                rule_id: components["parameters"]["AlertRuleId"];
            };
            cookie?: never;
        };
        /**
         * Get an alert rule
         * @description One alert rule of the caller's teams.
         */
        get: operations["getAlertRule"];
        put?: never;
        post?: never;
        /**
         * Delete an alert rule
         * @description Deletes a rule; the alerts it has firing are resolved (`alert.resolved`), and its alerts stay listed (their `rule_id` becomes `null`). With `If-Match`, only the version read is deleted (412 otherwise).
         */
        delete: operations["deleteAlertRule"];
        options?: never;
        head?: never;
        /**
         * Update an alert rule
         * @description Changes a rule (JSON merge patch; `scope`, `condition` and `labels` are replaced whole). The agents' pending and firing states are kept, and the next evaluation uses the new definition; turning the rule off (`enabled: false`) resolves the alerts it has firing. With `If-Match`, only the version read is changed (412 otherwise).
         */
        patch: operations["updateAlertRule"];
        trace?: never;
    };
    "/api/v1/metrics/alerts/notifications": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List notification channels
         * @description The notification channels of the caller's teams (or of one, with `team_id`), newest first unless `sort` says otherwise; secrets (a Slack URL) are never shown. Offset mode by default; send `cursor` (empty for the first page) for cursor mode.
         */
        get: operations["listNotificationChannels"];
        put?: never;
        /**
         * Create a notification channel
         * @description Creates a channel in one of the caller's teams; the team's alerts that match its routing notify it from now on. A `webhook` channel's `webhook_id` must be one of the team's webhooks (404 otherwise); a `slack` URL is checked as webhook URLs are (422 `VAL_WEBHOOK_TARGET_FORBIDDEN` for private addresses unless the server allows them) and stored encrypted; an `email` channel needs the server's `SMTP_URL`.
         */
        post: operations["createNotificationChannel"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/metrics/alerts/notifications/{channel_id}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The notification channel's id.
                 * @example 0192f4b0-2c3d-7e4f-9a50-6b7c8d9e0f12
                 */
                channel_id: components["parameters"]["NotificationChannelId"];
            };
            cookie?: never;
        };
        /**
         * Get a notification channel
         * @description One notification channel of the caller's teams; its Slack URL is never shown (`slack_url_hint`).
         */
        get: operations["getNotificationChannel"];
        put?: never;
        post?: never;
        /**
         * Delete a notification channel
         * @description Deletes a channel, with its pending notifications. With `If-Match`, only the version read is deleted (412 otherwise).
         */
        delete: operations["deleteNotificationChannel"];
        options?: never;
        head?: never;
        /**
         * Update a notification channel
         * @description Changes a channel (JSON merge patch; `email_to` and `label_matchers` are replaced whole). Its kind never changes. With `If-Match`, only the version read is changed (412 otherwise).
         */
        patch: operations["updateNotificationChannel"];
        trace?: never;
    };
    "/api/v1/metrics/alerts/notifications/{channel_id}/test": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The notification channel's id.
                 * @example 0192f4b0-2c3d-7e4f-9a50-6b7c8d9e0f12
                 */
                channel_id: components["parameters"]["NotificationChannelId"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Send a test notification
         * @description Queues a test notification to this channel only (a `webhook.ping` for a `webhook` channel; a short test message for `slack` and `email`), sent and retried as any notification, and answers `202` at once with the queued delivery; `Location` is the channel. A disabled channel is refused with 409 `BIZ_NOTIFICATION_CHANNEL_DISABLED`.
         */
        post: operations["testNotificationChannel"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/metrics/alerts/silences": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List silences
         * @description The silences of the caller's teams (or of one, with `team_id`), past, active and future, newest first unless `sort` says otherwise. Offset mode by default; send `cursor` (empty for the first page) for cursor mode.
         */
        get: operations["listAlertSilences"];
        put?: never;
        /**
         * Create a silence
         * @description Creates a silence in one of the caller's teams: while it is active, the team's alerts whose labels match it notify no channel (they are still raised and listed). `ends_at` must be after `starts_at` (422).
         */
        post: operations["createAlertSilence"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/metrics/alerts/silences/{silence_id}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The silence's id.
                 * @example 0192f4c0-3d4e-7f50-8a60-7c8d9e0f1a23
                 */
                silence_id: components["parameters"]["AlertSilenceId"];
            };
            cookie?: never;
        };
        /**
         * Get a silence
         * @description One silence of the caller's teams.
         */
        get: operations["getAlertSilence"];
        put?: never;
        post?: never;
        /**
         * Delete a silence
         * @description Deletes a silence; alerts from now on notify as if it never was. With `If-Match`, only the version read is deleted (412 otherwise).
         */
        delete: operations["deleteAlertSilence"];
        options?: never;
        head?: never;
        /**
         * Update a silence
         * @description Changes a silence (JSON merge patch; `matchers` is replaced whole); set `ends_at` to now to end it early. With `If-Match`, only the version read is changed (412 otherwise).
         */
        patch: operations["updateAlertSilence"];
        trace?: never;
    };
    "/api/v1/webhooks": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List webhooks
         * @description The webhooks of the caller's teams, newest first. Secrets are never shown; `secret_hint` tells them apart.
         */
        get: operations["listWebhooks"];
        put?: never;
        /**
         * Register a webhook
         * @description Registers an endpoint for some event types of one of the caller's teams. The answer is the only one that shows the signing `secret`. The URL must be `http(s)` and its host must resolve to public addresses: private, loopback and link-local targets are refused with 422 `VAL_WEBHOOK_TARGET_FORBIDDEN` unless the server allows them. Send `pingWebhook` next to check the endpoint.
         */
        post: operations["createWebhook"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/webhooks/{webhook_id}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The webhook's id.
                 * @example 0192f3c0-2d4e-7f60-8a1b-2c3d4e5f6a7b
                 */
                webhook_id: components["parameters"]["WebhookId"];
            };
            cookie?: never;
        };
        /**
         * Get a webhook
         * @description One webhook of the caller's teams, with its health: `active`, `disabled_reason`, `consecutive_failures`.
         */
        get: operations["getWebhook"];
        put?: never;
        post?: never;
        /**
         * Delete a webhook
         * @description Deletes the webhook with its deliveries and their attempts; nothing more is sent to it, not even an attempt already due. With `If-Match`, only the version read is deleted (412 otherwise).
         */
        delete: operations["deleteWebhook"];
        options?: never;
        head?: never;
        /**
         * Update a webhook
         * @description Changes the URL, the event types, the description or the secret, or turns the webhook off and on (`active`). Turning it on clears `disabled_reason` and the failure count; deliveries that failed while it was off are not resent (redeliver them). With `If-Match`, only the version read is changed (412 otherwise).
         */
        patch: operations["updateWebhook"];
        trace?: never;
    };
    "/api/v1/webhooks/{webhook_id}/ping": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The webhook's id.
                 * @example 0192f3c0-2d4e-7f60-8a1b-2c3d4e5f6a7b
                 */
                webhook_id: components["parameters"]["WebhookId"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Ping a webhook
         * @description Queues a `webhook.ping` delivery to this webhook only, signed like any other, and answers `202` with the delivery at once; follow `Location` to see its attempts. A disabled webhook is refused with 409 `BIZ_WEBHOOK_DISABLED`: turn it on first.
         */
        post: operations["pingWebhook"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/webhooks/{webhook_id}/deliveries": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The webhook's id.
                 * @example 0192f3c0-2d4e-7f60-8a1b-2c3d4e5f6a7b
                 */
                webhook_id: components["parameters"]["WebhookId"];
            };
            cookie?: never;
        };
        /**
         * List deliveries of a webhook
         * @description What was sent to the webhook, newest first, with each delivery's status and last answer; `getWebhookDelivery` shows the attempts. Deliveries are kept 30 days (`x-webhook-delivery.retention_days`).
         */
        get: operations["listWebhookDeliveries"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The webhook's id.
                 * @example 0192f3c0-2d4e-7f60-8a1b-2c3d4e5f6a7b
                 */
                webhook_id: components["parameters"]["WebhookId"];
                /**
                 * @description The delivery's id.
                 * @example 0192f3c4-9e8d-7c6b-8a59-4e3d2c1b0a99
                 */
                delivery_id: components["parameters"]["WebhookDeliveryId"];
            };
            cookie?: never;
        };
        /**
         * Get a delivery
         * @description One delivery with the exact body it sends and every attempt: when, the HTTP status, how long it took and the start of the answer.
         */
        get: operations["getWebhookDelivery"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The webhook's id.
                 * @example 0192f3c0-2d4e-7f60-8a1b-2c3d4e5f6a7b
                 */
                webhook_id: components["parameters"]["WebhookId"];
                /**
                 * @description The delivery's id.
                 * @example 0192f3c4-9e8d-7c6b-8a59-4e3d2c1b0a99
                 */
                delivery_id: components["parameters"]["WebhookDeliveryId"];
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Redeliver
         * @description Queues a new delivery of the same event (same body and event `id`, new delivery id, `redelivery_of` pointing at this one), whatever became of this one; it is retried like any other. A disabled webhook is refused with 409 `BIZ_WEBHOOK_DISABLED`.
         */
        post: operations["redeliverWebhookDelivery"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Stream live events
         * @description A Server-Sent Events stream (`text/event-stream`) of the events of the caller's teams on the channels asked for, as they happen, on every server of the deployment (they meet through Redis). Each message has `id:` (its stream position), `event:` (the event type) and one `data:` line, a `StreamEvent` in JSON. After a dropped connection, reconnect with `Last-Event-ID` to receive what was missed (within `x-event-stream.replay_hours`) before live events; a duplicate across a reconnect has the same event `id`. A comment line (`: keep-alive`) comes every `x-event-stream.keepalive_seconds` so proxies keep the connection open. A stream opened with an access token ends when the token expires; reconnect with a fresh one and `Last-Event-ID`. A stream whose credential no longer holds (checked every `x-event-stream.reauthenticate_seconds`) ends too. A caller holds at most `x-event-stream.max_streams_per_caller` streams on one server; another is refused with 429 `RATE_TOO_MANY_STREAMS`.
         */
        get: operations["streamEvents"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/events/ws": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Open the live WebSocket
         * @description The live events of `streamEvents` over a WebSocket (RFC 6455), for clients that want one connection to
         *     subscribe and unsubscribe on: an HTTP `GET` with `Upgrade: websocket`, answered `101 Switching Protocols`.
         *     The protocol that follows (every message, with its schema) is described by the AsyncAPI 3 document
         *     [`/asyncapi.json`](/asyncapi.json), written from the same event catalogue as this contract's webhooks; its
         *     messages are `EventSocketClientMessage` and `EventSocketServerMessage`.
         *
         *     **Authentication comes in the first message**, `{"type":"auth","token":"<access token or API key>"}`, within
         *     `x-event-stream.auth_timeout_seconds`, and is answered `authenticated`; nothing else is accepted before it.
         *     The credential is never in the URL (URLs are logged by servers and proxies and kept in browser history), nor
         *     in a subprotocol (`Sec-WebSocket-Protocol` is a request header that proxies log too, and its value must be an
         *     HTTP token, which a JWT or an API key is not guaranteed to be); browsers cannot set `Authorization` on a
         *     WebSocket. Since no ambient credential (cookie) is used, a page of another origin gains nothing by opening
         *     a socket, so the `Origin` is not checked. The upgrade itself is therefore anonymous and counted against the
         *     client address's rate limit; it is refused before the upgrade only when it is not a valid WebSocket request
         *     (400), over the rate limit (429) or when the server is stopping (503).
         *
         *     Then `{"type":"subscribe","channels":[…]}` (each channel needs its read permission, as on `streamEvents`, and
         *     a channel without it is refused alone) and `unsubscribe`; events arrive as
         *     `{"type":"event","id","channel","event","data"}`, `id` being the stream position of `streamEvents`, so
         *     `last_event_id` on `subscribe` resumes after a reconnect exactly as `Last-Event-ID` does. The server pings
         *     every `x-event-stream.keepalive_seconds` and closes a socket that does not answer.
         *
         *     The socket ends, as a stream does, when the credential expires or no longer holds (checked every
         *     `x-event-stream.reauthenticate_seconds`), and it counts towards `x-event-stream.max_streams_per_caller`
         *     together with the caller's streams. Close codes: `1000` closed by the client; `1001` the server is stopping
         *     (reconnect elsewhere and resume); `1009` a message over `x-event-stream.max_message_bytes`; `1013` the client
         *     fell behind or the server may have missed events (reconnect and resume); `4000` + an HTTP status for a refusal
         *     named by an `error` message just before, whose `code` is also the close reason: `4400` (a first message that
         *     is not a valid message), `4401` (a message other than `auth` first, no `auth` in time, a bad or expired
         *     credential, or one that no longer holds: revoked, its user deactivated, a subscribed channel's permission or
         *     a team lost), `4403` (the credential lacks `events:subscribe`), `4429` (too many streams).
         */
        get: operations["openEventSocket"];
        put?: never;
        post?: never;
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
    "/metrics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Prometheus metrics
         * @description This process's metrics in the Prometheus text format (0.0.4), for a Prometheus server to scrape: requests
         *     by `operation_id`, method and status class (`2xx`, `3xx`, `4xx`, `5xx`; never by raw path, so the series
         *     are bounded by the contract) with their durations; the PostgreSQL pool; Redis; rate-limit refusals by
         *     tier; idempotent replays; the event outbox's backlog and the age of its oldest event; webhook attempts by
         *     outcome and their latency; open event streams; background worker runs; and Node.js's process metrics.
         *     Every metric carries its help text. Never rate limited. When the server is configured with
         *     `METRICS_TOKEN`, the request must carry it as `Authorization: Bearer <token>` (`metricsToken`); without
         *     it, the metrics are open to whoever reaches the server (keep them on an internal network).
         */
        get: operations["getMetrics"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Front door
         * @description What this server is and where its parts are: the docs, the contract, the API, health and metrics. A
         *     browser (an `Accept` that puts `text/html` before JSON) is sent to the docs instead, with `303 See Other`;
         *     any other client (`curl`, `Accept: application/json`, `*\/*`) gets the JSON index.
         */
        get: operations["getIndex"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export interface webhooks {
    "task.created": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * task.created
         * @description A task was created: an agent's task, a fleet task (`data.kind` is `fleet`, with its `fleet` counts) or each of a fleet task's children (`data.parent_id`).
         *
         *     Delivered as a signed `POST` to every active webhook of the team subscribed to `task.created`. Answer any `2xx` quickly (within `x-webhook-delivery.timeout_seconds`) and do the work afterwards; any other answer, or none, is retried with exponential backoff and jitter.
         */
        post: operations["onTaskCreated"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "task.completed": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * task.completed
         * @description A task succeeded; `data` is the task with its `result`.
         *
         *     Delivered as a signed `POST` to every active webhook of the team subscribed to `task.completed`. Answer any `2xx` quickly (within `x-webhook-delivery.timeout_seconds`) and do the work afterwards; any other answer, or none, is retried with exponential backoff and jitter.
         */
        post: operations["onTaskCompleted"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "task.failed": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * task.failed
         * @description A task failed: its agent reported a failure or stopped heartbeating while running it; `data.error` says why.
         *
         *     Delivered as a signed `POST` to every active webhook of the team subscribed to `task.failed`. Answer any `2xx` quickly (within `x-webhook-delivery.timeout_seconds`) and do the work afterwards; any other answer, or none, is retried with exponential backoff and jitter.
         */
        post: operations["onTaskFailed"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "task.cancelled": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * task.cancelled
         * @description A task was cancelled by someone (`data.error` names who) before it finished.
         *
         *     Delivered as a signed `POST` to every active webhook of the team subscribed to `task.cancelled`. Answer any `2xx` quickly (within `x-webhook-delivery.timeout_seconds`) and do the work afterwards; any other answer, or none, is retried with exponential backoff and jitter.
         */
        post: operations["onTaskCancelled"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "alert.triggered": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * alert.triggered
         * @description An alert was raised, one by one or in bulk; `data` is the alert, `open`.
         *
         *     Delivered as a signed `POST` to every active webhook of the team subscribed to `alert.triggered`. Answer any `2xx` quickly (within `x-webhook-delivery.timeout_seconds`) and do the work afterwards; any other answer, or none, is retried with exponential backoff and jitter.
         */
        post: operations["onAlertTriggered"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "alert.acknowledged": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * alert.acknowledged
         * @description An alert was acknowledged; `data.acknowledged_by` says by whom.
         *
         *     Delivered as a signed `POST` to every active webhook of the team subscribed to `alert.acknowledged`. Answer any `2xx` quickly (within `x-webhook-delivery.timeout_seconds`) and do the work afterwards; any other answer, or none, is retried with exponential backoff and jitter.
         */
        post: operations["onAlertAcknowledged"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "alert.resolved": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * alert.resolved
         * @description An alert was resolved; `data.resolved_by` says by whom.
         *
         *     Delivered as a signed `POST` to every active webhook of the team subscribed to `alert.resolved`. Answer any `2xx` quickly (within `x-webhook-delivery.timeout_seconds`) and do the work afterwards; any other answer, or none, is retried with exponential backoff and jitter.
         */
        post: operations["onAlertResolved"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "deployment.finished": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * deployment.finished
         * @description A deployment reached an end: `succeeded`, `failed` or `rolled_back` (`data.status`).
         *
         *     Delivered as a signed `POST` to every active webhook of the team subscribed to `deployment.finished`. Answer any `2xx` quickly (within `x-webhook-delivery.timeout_seconds`) and do the work afterwards; any other answer, or none, is retried with exponential backoff and jitter.
         */
        post: operations["onDeploymentFinished"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "deployment.created": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * deployment.created
         * @description A deployment was asked for (`createDeployment`); `data` is the deployment, `pending`. A rollback is announced by `deployment.rollback_requested` instead.
         *
         *     Delivered as a signed `POST` to every active webhook of the team subscribed to `deployment.created`. Answer any `2xx` quickly (within `x-webhook-delivery.timeout_seconds`) and do the work afterwards; any other answer, or none, is retried with exponential backoff and jitter.
         */
        post: operations["onDeploymentCreated"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "deployment.rollback_requested": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * deployment.rollback_requested
         * @description A rollback was asked for (`rollbackDeployment`): `data` is the new deployment that carries it out, `pending`, with `rollback_of` (the deployment rolled back), `reason` and `requested_by`.
         *
         *     Delivered as a signed `POST` to every active webhook of the team subscribed to `deployment.rollback_requested`. Answer any `2xx` quickly (within `x-webhook-delivery.timeout_seconds`) and do the work afterwards; any other answer, or none, is retried with exponential backoff and jitter.
         */
        post: operations["onDeploymentRollbackRequested"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "pipeline.run.started": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * pipeline.run.started
         * @description A run of a pipeline turned `running`; `data` is the run.
         *
         *     Delivered as a signed `POST` to every active webhook of the team subscribed to `pipeline.run.started`. Answer any `2xx` quickly (within `x-webhook-delivery.timeout_seconds`) and do the work afterwards; any other answer, or none, is retried with exponential backoff and jitter.
         */
        post: operations["onPipelineRunStarted"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "pipeline.run.completed": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * pipeline.run.completed
         * @description A run of a pipeline ended: `succeeded`, `failed` or `cancelled` (`data.status`; a queued run may be cancelled without having started). What some tools call `pipeline.completed`; that name is refused, with a hint naming this one.
         *
         *     Delivered as a signed `POST` to every active webhook of the team subscribed to `pipeline.run.completed`. Answer any `2xx` quickly (within `x-webhook-delivery.timeout_seconds`) and do the work afterwards; any other answer, or none, is retried with exponential backoff and jitter.
         */
        post: operations["onPipelineRunCompleted"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "pipeline.updated": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * pipeline.updated
         * @description A pipeline was changed (`updatePipeline`, or `updatePipelines` once for each pipeline it changed); `data` is the pipeline after the change. A run that starts or ends is announced by `pipeline.run.*`, not by this event, though it moves the pipeline's `last_run_status`.
         *
         *     Delivered as a signed `POST` to every active webhook of the team subscribed to `pipeline.updated`. Answer any `2xx` quickly (within `x-webhook-delivery.timeout_seconds`) and do the work afterwards; any other answer, or none, is retried with exponential backoff and jitter.
         */
        post: operations["onPipelineUpdated"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "agent.enrolled": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * agent.enrolled
         * @description A host enrolled with an enrollment token, or enrolled again under the same hostname.
         *
         *     Delivered as a signed `POST` to every active webhook of the team subscribed to `agent.enrolled`. Answer any `2xx` quickly (within `x-webhook-delivery.timeout_seconds`) and do the work afterwards; any other answer, or none, is retried with exponential backoff and jitter.
         */
        post: operations["onAgentEnrolled"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "agent.offline": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * agent.offline
         * @description An agent stopped heartbeating and was marked `offline` (its running tasks fail, each with a `task.failed`).
         *
         *     Delivered as a signed `POST` to every active webhook of the team subscribed to `agent.offline`. Answer any `2xx` quickly (within `x-webhook-delivery.timeout_seconds`) and do the work afterwards; any other answer, or none, is retried with exponential backoff and jitter.
         */
        post: operations["onAgentOffline"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "webhook.ping": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * webhook.ping
         * @description Sent by `pingWebhook` to the webhook pinged, to check that it is reachable and verifies signatures.
         *
         *     Delivered as a signed `POST` to every active webhook of the team subscribed to `webhook.ping` (pings go only to the webhook pinged). Answer any `2xx` quickly (within `x-webhook-delivery.timeout_seconds`) and do the work afterwards; any other answer, or none, is retried with exponential backoff and jitter.
         */
        post: operations["onWebhookPing"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
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
         *       "api_version": "2.0",
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
             * @example 2.0
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
        ErrorCode: string & ("AUTH_REQUIRED" | "AUTH_INVALID_TOKEN" | "AUTH_EXPIRED_TOKEN" | "AUTH_INVALID_CREDENTIALS" | "PERM_DENIED" | "VAL_MALFORMED_REQUEST" | "VAL_INVALID_PARAMETER" | "VAL_ERROR" | "VAL_MULTIPLE_ERRORS" | "VAL_REQUIRED_FIELD" | "VAL_INVALID_FORMAT" | "VAL_PAYLOAD_TOO_LARGE" | "VAL_UNSUPPORTED_MEDIA_TYPE" | "VAL_RANGE_NOT_SATISFIABLE" | "RES_NOT_FOUND" | "RES_METHOD_NOT_ALLOWED" | "RES_ALREADY_EXISTS" | "RES_CONFLICT" | "RES_IDEMPOTENCY_IN_FLIGHT" | "VAL_IDEMPOTENCY_KEY_REUSED" | "RES_PRECONDITION_FAILED" | "RES_GONE" | "BIZ_AGENT_OFFLINE" | "BIZ_TASK_ALREADY_RUNNING" | "BIZ_TASK_FINISHED" | "BIZ_TASK_NOT_RETRYABLE" | "BIZ_TASK_ARTIFACT_LIMIT" | "BIZ_AGENT_NOT_IN_TEAM" | "BIZ_FLEET_TARGET_EMPTY" | "BIZ_FLEET_TARGET_TOO_LARGE" | "BIZ_FLEET_TASK_NOT_RETRYABLE" | "BIZ_DEPLOYMENT_INVALID_TRANSITION" | "BIZ_DEPLOYMENT_NOT_ROLLBACKABLE" | "BIZ_ROLLBACK_IN_PROGRESS" | "BIZ_PIPELINE_NOT_ACTIVE" | "BIZ_PIPELINE_RUN_INVALID_TRANSITION" | "BIZ_ALERT_ALREADY_ACKNOWLEDGED" | "BIZ_ALERT_RESOLVED" | "VAL_WEBHOOK_TARGET_FORBIDDEN" | "BIZ_WEBHOOK_DISABLED" | "VAL_INVALID_SCHEMA" | "VAL_QUERY_TOO_LARGE" | "BIZ_NOTIFICATION_CHANNEL_DISABLED" | "BIZ_SMTP_NOT_CONFIGURED" | "RATE_LIMIT_EXCEEDED" | "RATE_TOO_MANY_STREAMS" | "SYS_INTERNAL_ERROR" | "EXT_DATABASE_ERROR" | "EXT_SERVICE_UNAVAILABLE");
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
        Permission: "agents:read" | "agents:write" | "teams:read" | "teams:write" | "profile:read" | "profile:write" | "apikeys:read" | "apikeys:write" | "admin:users" | "admin:teams" | "admin:audit" | "tasks:read" | "tasks:execute" | "tasks:templates" | "agent:self" | "deployments:read" | "deployments:write" | "pipelines:read" | "pipelines:write" | "alerts:read" | "alerts:write" | "webhooks:read" | "webhooks:write" | "events:subscribe" | "admin:advisories";
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
         * @description The host's primary address, IPv4 (dotted quad) or IPv6. Answers give it in canonical form.
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
            id: string;
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
             * @description When the last heartbeat arrived (RFC 3339, UTC), or `null` before the first. Heartbeats are written in batches after they are answered, so it can be behind the newest one by the batches under way (normally tens of milliseconds).
             * @example 2026-11-21T10:29:41.000Z
             */
            last_seen?: string | null;
            /**
             * Format: date-time
             * @description When the agent was created (RFC 3339, UTC).
             * @example 2026-11-02T08:15:00.000Z
             */
            created_at?: string;
            /**
             * Format: date-time
             * @description When the agent was last changed (RFC 3339, UTC).
             * @example 2026-11-20T17:02:12.000Z
             */
            updated_at?: string;
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
         * AgentGroupName
         * @description An agent group's name, unique within its team regardless of case.
         * @example Web servers
         */
        AgentGroupName: string;
        /**
         * AgentGroupRef
         * @description A short reference to an agent group: its id and name, enough to show and to filter by (`group_id`).
         *     The whole group is at `GET /api/v1/agent-groups/{group_id}`.
         * @example {
         *       "id": "0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60",
         *       "name": "Web servers"
         *     }
         */
        AgentGroupRef: {
            /**
             * Format: uuid
             * @description The group's id (UUIDv7).
             * @example 0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60
             */
            id: string;
            name: components["schemas"]["AgentGroupName"];
        };
        /**
         * AgentHealthScore
         * Format: int32
         * @description How healthy an agent is, from 0 (down) to 100 (online with nothing wrong), computed when the list is read:
         *
         *     - `offline` → **0**;
         *     - `maintenance` → **50** (taken out of service on purpose; its alerts do not count);
         *     - `online` → **100** less **30** for each unresolved `critical` alert about the agent, **10** for each
         *       unresolved `warning` and **2** for each unresolved `info`, never below 0.
         *
         *     An alert is unresolved while its status is `open` or `acknowledged`; alerts that name no agent count for
         *     none. The rule may be refined within v2 only in ways that keep this range and ordering.
         * @example 70
         */
        AgentHealthScore: number;
        /**
         * AgentV2
         * @description An agent as `listAgentsV2` shows it: every field of `Agent`, plus the agent groups it belongs to and its
         *     health score (see `AgentHealthScore` for the rule).
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
         *       "updated_at": "2026-11-20T17:02:12.000Z",
         *       "groups": [
         *         {
         *           "id": "0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60",
         *           "name": "Web servers"
         *         },
         *         {
         *           "id": "0192f2b1-08a7-7c3e-9d21-5e6f7a8b9c0d",
         *           "name": "Canary hosts"
         *         }
         *       ],
         *       "health_score": 70
         *     }
         */
        AgentV2: components["schemas"]["Agent"] & {
            /**
             * @description Every agent group the agent belongs to (an agent may be in any number of its team's groups),
             *     sorted by name regardless of case; empty when it is in none.
             */
            groups: components["schemas"]["AgentGroupRef"][];
            health_score: components["schemas"]["AgentHealthScore"];
        };
        /**
         * AgentListSummary
         * @description Counts over every agent the list's filters match (`team_id`, `status`, `platform`, `search`, `group_id`,
         *     `created_after`, `created_before`), across all pages, not only the page shown. Paging (`limit`, `offset`,
         *     `cursor`) and `sort` do not change it.
         * @example {
         *       "total": 42,
         *       "by_status": {
         *         "online": 38,
         *         "offline": 3,
         *         "maintenance": 1
         *       },
         *       "groups": 5
         *     }
         */
        AgentListSummary: {
            /**
             * Format: int64
             * @description Agents that match the filters (in offset mode the same number as `pagination.total`).
             * @example 42
             */
            total: number;
            /** @description The matching agents per status; the three counts add up to `total`. */
            by_status: {
                /**
                 * Format: int64
                 * @description Matching agents whose heartbeats arrive.
                 * @example 38
                 */
                online: number;
                /**
                 * Format: int64
                 * @description Matching agents that stopped heartbeating.
                 * @example 3
                 */
                offline: number;
                /**
                 * Format: int64
                 * @description Matching agents an operator took out of service.
                 * @example 1
                 */
                maintenance: number;
            };
            /**
             * Format: int64
             * @description How many distinct agent groups hold at least one matching agent.
             * @example 5
             */
            groups: number;
        };
        /**
         * AgentV2ListEnvelope
         * @description A page of agents with their groups and health scores, and a summary of the whole filtered set, in the
         *     success envelope. Seed 000 sketches v2 as `{ agents, summary }`; in Opsdeck's envelope the agents are
         *     `data` (as in every list) and `summary` sits beside `pagination`, so the SDK's pagination helpers and
         *     every client that reads lists work unchanged.
         */
        AgentV2ListEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            /** @description The agents of this page. */
            data: components["schemas"]["AgentV2"][];
            meta: components["schemas"]["Meta"];
            pagination: components["schemas"]["Pagination"];
            summary: components["schemas"]["AgentListSummary"];
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
         * TaskStatus
         * @description `pending` (waiting for its agent to claim it) → `running` → `succeeded` or `failed`; `cancelled` from
         *     pending or running. A finished task (succeeded, failed, cancelled) never changes again; `retryTask`
         *     makes a new one. A fleet task is `running` from its first child's claim, and ends `succeeded` (every child
         *     succeeded or was skipped as offline), `failed` (a child failed, or failures reached the threshold) or
         *     `cancelled`; a child held back by the rollout is `pending`.
         * @example running
         * @enum {string}
         */
        TaskStatus: "pending" | "running" | "succeeded" | "failed" | "cancelled";
        /**
         * TaskType
         * @description What a task does on its agent: `reboot`, `shutdown`, `update_agent` (to a version) or `command` (one program with arguments).
         * @example reboot
         * @enum {string}
         */
        TaskType: "reboot" | "shutdown" | "update_agent" | "command";
        /**
         * TaskKind
         * @description `agent`: a task one agent runs. `fleet`: a fleet-wide task (no agent of its own) whose children, one `agent` task per agent of its target, do the work; its `fleet` object counts them.
         * @example fleet
         * @enum {string}
         */
        TaskKind: "agent" | "fleet";
        /**
         * AgentSelector
         * @description The agents of a fleet task's team that match every filter given, as `listAgents` filters them (its `team_id`
         *     is the task's `team_id` here). An empty object matches every agent of the team.
         * @example {
         *       "platform": "linux",
         *       "search": "web-"
         *     }
         */
        AgentSelector: {
            status?: components["schemas"]["AgentStatus"];
            platform?: components["schemas"]["Platform"];
            /**
             * @description Agents whose hostname contains this text (any case) or whose address starts with it.
             * @example web-
             */
            search?: string;
            /**
             * Format: uuid
             * @description Members of this agent group.
             * @example 0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60
             */
            group_id?: string;
            /**
             * Format: date-time
             * @description Agents created at or after this time (RFC 3339).
             * @example 2026-11-01T00:00:00Z
             */
            created_after?: string;
            /**
             * Format: date-time
             * @description Agents created before this time (RFC 3339).
             * @example 2026-12-01T00:00:00Z
             */
            created_before?: string;
        };
        /**
         * FleetTarget
         * @description The agents a fleet task runs on, exactly one of: `agent_ids`, `group_id` (the members of an agent group) or
         *     `filter`. It is resolved once, when the task is created, within the task's team: agents that join the group
         *     or match the filter later are not added. Any id of `agent_ids` that is not an agent of the task's team
         *     (whether it exists elsewhere or not) is refused with `422 BIZ_AGENT_NOT_IN_TEAM`, naming only its position.
         * @example {
         *       "group_id": "0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60"
         *     }
         */
        FleetTarget: {
            /** @description These agents, each once. */
            agent_ids?: string[];
            /**
             * Format: uuid
             * @description The members of this agent group (one of the team's) at the time of creation.
             * @example 0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60
             */
            group_id?: string;
            filter?: components["schemas"]["AgentSelector"];
        };
        /**
         * FleetCounts
         * @description A fleet task's children by state; they add up to `total`.
         * @example {
         *       "pending": 30,
         *       "running": 10,
         *       "succeeded": 12,
         *       "failed": 1,
         *       "cancelled": 0,
         *       "skipped_offline": 2
         *     }
         */
        FleetCounts: {
            /**
             * Format: int32
             * @description Not started yet (waiting for their agent to claim them, or for their turn in the rollout).
             * @example 30
             */
            pending: number;
            /**
             * Format: int32
             * @description Claimed by their agents and not finished.
             * @example 10
             */
            running: number;
            /**
             * Format: int32
             * @description Finished well.
             * @example 12
             */
            succeeded: number;
            /**
             * Format: int32
             * @description Failed (reported so, or their agent stopped heartbeating while running them).
             * @example 1
             */
            failed: number;
            /**
             * Format: int32
             * @description Cancelled (by someone, or because the rollout stopped) before they finished.
             * @example 0
             */
            cancelled: number;
            /**
             * Format: int32
             * @description Not run because their agent was offline when the task was created, or went offline (stopped heartbeating) before claiming its child: children `cancelled` with the error `BIZ_AGENT_OFFLINE: …`. Never with `queue_if_offline`.
             * @example 2
             */
            skipped_offline: number;
        };
        /**
         * FleetProgress
         * @description A fleet task's target, limits and children counted by state.
         * @example {
         *       "target": {
         *         "group_id": "0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60"
         *       },
         *       "concurrency": 10,
         *       "failure_threshold_percent": 10,
         *       "queue_if_offline": false,
         *       "total": 55,
         *       "counts": {
         *         "pending": 30,
         *         "running": 10,
         *         "succeeded": 12,
         *         "failed": 1,
         *         "cancelled": 0,
         *         "skipped_offline": 2
         *       },
         *       "stopped_reason": null
         *     }
         */
        FleetProgress: {
            target: components["schemas"]["FleetTarget"];
            /**
             * Format: int32
             * @description At most this many children are pending for their agents or running at once.
             * @example 10
             */
            concurrency: number;
            /**
             * Format: int32
             * @description Failures (as a percentage of `total`) that stop the rollout; 100 never stops it.
             * @example 10
             */
            failure_threshold_percent: number;
            /**
             * @description Whether agents offline at creation were given their child anyway.
             * @example false
             */
            queue_if_offline: boolean;
            /**
             * Format: int32
             * @description Children, one per agent the target resolved to.
             * @example 55
             */
            total: number;
            counts: components["schemas"]["FleetCounts"];
            /**
             * @description Why the rollout stopped before every child ran (the failure threshold, or a cancellation and by whom), or `null`.
             * @example null
             */
            stopped_reason: string | null;
        };
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
         * TaskFields
         * @description The fields of a task, of which only `id` is always present: a list asked for with `fields=…`
         *     carries just the fields named. Without `fields`, every field is present, as in `Task`.
         * @example {
         *       "id": "0192f1a0-1b2c-7d3e-8f40-5a6b7c8d9e0f",
         *       "type": "reboot",
         *       "status": "running"
         *     }
         */
        TaskFields: {
            /**
             * Format: uuid
             * @description The task's id (UUIDv7).
             * @example 0192f1a0-1b2c-7d3e-8f40-5a6b7c8d9e0f
             */
            id: string;
            /**
             * Format: uuid
             * @description The task's team (its agent's, or for a fleet task the team its target was resolved in).
             * @example 0192f0a0-0000-7000-8000-00000000000a
             */
            team_id?: string;
            /**
             * Format: uuid
             * @description The agent that runs the task; `null` for a fleet task (its children have the agents).
             * @example 0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d
             */
            agent_id?: string | null;
            kind?: components["schemas"]["TaskKind"];
            /**
             * Format: uuid
             * @description The fleet task this task is a child of, or `null`.
             * @example null
             */
            parent_id?: string | null;
            /**
             * Format: uuid
             * @description The task template the task was made from, or `null`.
             * @example null
             */
            template_id?: string | null;
            /**
             * Format: int32
             * @description The version of that template the task ran, or `null`.
             * @example null
             */
            template_version?: number | null;
            /** @description A fleet task's target, limits and children counted by state; `null` for an agent's task. */
            fleet?: components["schemas"]["FleetProgress"] | null;
            type?: components["schemas"]["TaskType"];
            status?: components["schemas"]["TaskStatus"];
            /**
             * Format: int32
             * @description How far the task is, in percent, as its agent reports it; for a fleet task, the share of its children that finished.
             * @example 40
             */
            progress?: number;
            /**
             * Format: date-time
             * @description When the agent expects to finish, or `null`.
             * @example 2026-11-21T10:32:00.000Z
             */
            eta?: string | null;
            parameters?: components["schemas"]["TaskParameters"];
            /** @description What the agent reported at the end, or `null` before. */
            result?: components["schemas"]["TaskResult"] | null;
            /**
             * @description Why the task failed or was cancelled, or `null` (`agent stopped heartbeating` when its agent went silent).
             * @example null
             */
            error?: string | null;
            /**
             * Format: int32
             * @description 1 for the first try; a retry counts on.
             * @example 1
             */
            attempt?: number;
            /**
             * Format: uuid
             * @description The task this one retries, or `null`.
             * @example null
             */
            retry_of?: string | null;
            /**
             * @description Whether it was asked for while the agent was offline, on purpose, to run when it returns.
             * @example false
             */
            queued_offline?: boolean;
            /**
             * Format: uuid
             * @description The user who asked for the task, or `null`.
             * @example 0192f0d2-1a2b-7c3d-8e4f-5a6b7c8d9e0f
             */
            created_by?: string | null;
            /**
             * Format: date-time
             * @description When it was asked for (RFC 3339, UTC).
             * @example 2026-11-21T10:30:00.000Z
             */
            created_at?: string;
            /**
             * Format: date-time
             * @description When it last changed (RFC 3339, UTC).
             * @example 2026-11-21T10:30:40.000Z
             */
            updated_at?: string;
            /**
             * Format: date-time
             * @description When its agent claimed it, or `null`.
             * @example 2026-11-21T10:30:05.000Z
             */
            started_at?: string | null;
            /**
             * Format: date-time
             * @description When it finished, or `null`.
             * @example null
             */
            finished_at?: string | null;
        };
        /**
         * TaskPageEnvelope
         * @description A page of tasks, in the success envelope.
         */
        TaskPageEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            /** @description The tasks of this page, each trimmed to `fields` when that was asked for. */
            data: components["schemas"]["TaskFields"][];
            meta: components["schemas"]["Meta"];
            pagination: components["schemas"]["Pagination"];
        };
        /**
         * TaskAction
         * @description An action to run, as `rebootAgent`, `shutdownAgent`, `updateAgentSoftware` and `runAgentCommand` run theirs: its
         *     `parameters` are checked as that operation checks its body (`update_agent` needs a `version`, `command` a
         *     `command`, a reboot takes neither), else `422` naming the field; a command's `args` default to none and its
         *     `timeout_seconds` to 300.
         * @example {
         *       "type": "command",
         *       "parameters": {
         *         "command": "systemctl",
         *         "args": [
         *           "restart",
         *           "nginx"
         *         ],
         *         "timeout_seconds": 60
         *       }
         *     }
         */
        TaskAction: {
            type: components["schemas"]["TaskType"];
            parameters?: components["schemas"]["TaskParameters"];
        };
        /**
         * TaskTemplateRef
         * @description Run a task template: its action, with its `defaults` merged under these `parameters` (key by key, these
         *     winning), checked against its `parameters_schema`, and as task parameters of that action (a `command` needs its
         *     command, an `update_agent` its version, as the action's own operation does). Problems are answered `422` with one
         *     detail per failing field, named `template.parameters.<path>`; a template of another team, a deleted one or a
         *     version it does not have is `404`.
         * @example {
         *       "id": "0193a1c0-7d2e-7f10-9a4b-5c6d7e8f9a01",
         *       "parameters": {
         *         "reason": "Config reloaded by the on-call engineer"
         *       }
         *     }
         */
        TaskTemplateRef: {
            /**
             * Format: uuid
             * @description The template's id.
             * @example 0193a1c0-7d2e-7f10-9a4b-5c6d7e8f9a01
             */
            id: string;
            /**
             * Format: int32
             * @description Which version to run; the latest when left out.
             * @example 2
             */
            version?: number;
            /**
             * @description The parameters of this run, merged over the template's `defaults`.
             * @example {
             *       "reason": "Config reloaded by the on-call engineer"
             *     }
             */
            parameters?: Record<string, never>;
        };
        /**
         * CreateAgentTaskRequest
         * @description A task for one agent, as the action operations (`rebootAgent`, …) make it, from an `action` or a task `template` (exactly one of the two).
         * @example {
         *       "action": {
         *         "type": "command",
         *         "parameters": {
         *           "command": "systemctl",
         *           "args": [
         *             "restart",
         *             "nginx"
         *           ]
         *         }
         *       }
         *     }
         */
        CreateAgentTaskRequest: {
            action?: components["schemas"]["TaskAction"];
            template?: components["schemas"]["TaskTemplateRef"];
            /**
             * @description Queue the task even though the agent is offline (it runs when the agent returns); otherwise an offline agent is refused with 409 BIZ_AGENT_OFFLINE.
             * @default false
             * @example false
             */
            queue_if_offline?: boolean;
        } & (unknown | unknown);
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
         * AgentGroupDescription
         * @description What the group is for, or `null`.
         * @example The nginx fleet behind the public load balancers.
         */
        AgentGroupDescription: string | null;
        /**
         * AgentGroupFields
         * @description The fields of an agent group, of which only `id` is always present: a list asked for with `fields=…`
         *     carries just the fields named. Without `fields`, every field is present, as in `AgentGroup`.
         * @example {
         *       "id": "0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60",
         *       "name": "Web servers"
         *     }
         */
        AgentGroupFields: {
            /**
             * Format: uuid
             * @description The group's id (UUIDv7).
             * @example 0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60
             */
            readonly id: string;
            /**
             * Format: uuid
             * @description The team that owns the group; only that team's agents can be its members.
             * @example 0192f0a0-0000-7000-8000-00000000000a
             */
            readonly team_id?: string;
            name?: components["schemas"]["AgentGroupName"];
            description?: components["schemas"]["AgentGroupDescription"];
            /**
             * Format: int32
             * @description How many agents belong to the group.
             * @example 12
             */
            readonly agent_count?: number;
            /**
             * Format: date-time
             * @description When the group was created (RFC 3339, UTC).
             * @example 2026-11-10T09:00:00.000Z
             */
            readonly created_at?: string;
            /**
             * Format: date-time
             * @description When the group or its membership last changed (RFC 3339, UTC).
             * @example 2026-11-20T14:45:00.000Z
             */
            readonly updated_at?: string;
        };
        /**
         * AgentGroupListEnvelope
         * @description A page of agent groups, in the success envelope.
         */
        AgentGroupListEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            /** @description The agent groups of this page, each trimmed to `fields` when that was asked for. */
            data: components["schemas"]["AgentGroupFields"][];
            meta: components["schemas"]["Meta"];
            pagination: components["schemas"]["Pagination"];
        };
        /**
         * AgentGroupCreate
         * @description A new agent group. `team_id` may be left out when the caller belongs to exactly one team.
         * @example {
         *       "name": "Web servers",
         *       "description": "The nginx fleet behind the public load balancers."
         *     }
         */
        AgentGroupCreate: {
            name: components["schemas"]["AgentGroupName"];
            description?: components["schemas"]["AgentGroupDescription"];
            /**
             * Format: uuid
             * @description The team that will own the group (one of the caller's); defaults to the caller's only team.
             * @example 0192f0a0-0000-7000-8000-00000000000a
             */
            team_id?: string;
        };
        /**
         * AgentGroup
         * @description A named set of agents of one team, for example "web servers" or "canary hosts". An agent may belong to
         *     any number of its team's groups; `group_id` filters every list of agents by membership.
         * @example {
         *       "id": "0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60",
         *       "team_id": "0192f0a0-0000-7000-8000-00000000000a",
         *       "name": "Web servers",
         *       "description": "The nginx fleet behind the public load balancers.",
         *       "agent_count": 12,
         *       "created_at": "2026-11-10T09:00:00.000Z",
         *       "updated_at": "2026-11-20T14:45:00.000Z"
         *     }
         */
        AgentGroup: WithRequired<components["schemas"]["AgentGroupFields"], "team_id" | "name" | "description" | "agent_count" | "created_at" | "updated_at">;
        /**
         * AgentGroupEnvelope
         * @description An agent group, in the success envelope.
         */
        AgentGroupEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            data: components["schemas"]["AgentGroup"];
            meta: components["schemas"]["Meta"];
        };
        /**
         * AgentGroupPatch
         * @description A JSON merge patch of an agent group; a group never changes team.
         * @example {
         *       "description": "The nginx and envoy fleet behind the public load balancers."
         *     }
         */
        AgentGroupPatch: {
            name?: components["schemas"]["AgentGroupName"];
            description?: components["schemas"]["AgentGroupDescription"];
        };
        /**
         * AgentGroupMembersAdd
         * @description Agents to add to the group; each must be an agent of the group's team. Repeated ids count once.
         * @example {
         *       "agent_ids": [
         *         "0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d",
         *         "0192f0c3-2a9b-7f01-8c44-9e2d1b0a7f65"
         *       ]
         *     }
         */
        AgentGroupMembersAdd: {
            /**
             * @description The agents to add (1 to 500).
             * @example [
             *       "0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d",
             *       "0192f0c3-2a9b-7f01-8c44-9e2d1b0a7f65"
             *     ]
             */
            agent_ids: string[];
        };
        /**
         * AgentGroupMembersAdded
         * @description What adding agents to a group did; every requested agent is in exactly one of the two lists.
         * @example {
         *       "added": [
         *         "0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d"
         *       ],
         *       "already_members": [
         *         "0192f0c3-2a9b-7f01-8c44-9e2d1b0a7f65"
         *       ]
         *     }
         */
        AgentGroupMembersAdded: {
            /**
             * @description The agents that joined the group with this request.
             * @example [
             *       "0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d"
             *     ]
             */
            added: string[];
            /**
             * @description The agents that were members already (nothing changed for them).
             * @example [
             *       "0192f0c3-2a9b-7f01-8c44-9e2d1b0a7f65"
             *     ]
             */
            already_members: string[];
        };
        /**
         * AgentGroupMembersAddedEnvelope
         * @description The outcome of adding agents to a group, in the success envelope.
         */
        AgentGroupMembersAddedEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            data: components["schemas"]["AgentGroupMembersAdded"];
            meta: components["schemas"]["Meta"];
        };
        /**
         * CreateTaskRequest
         * @description A fleet-wide task: an `action` (or a task `template`: exactly one of the two) run on every agent of a `target`, one child task per agent, at most
         *     `concurrency` of them claimable at a time, stopping once failures reach `failure_threshold_percent`.
         * @example {
         *       "action": {
         *         "type": "reboot",
         *         "parameters": {
         *           "reason": "Kernel update 6.8.0-49"
         *         }
         *       },
         *       "target": {
         *         "group_id": "0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60"
         *       },
         *       "concurrency": 10,
         *       "failure_threshold_percent": 10
         *     }
         */
        CreateTaskRequest: {
            action?: components["schemas"]["TaskAction"];
            template?: components["schemas"]["TaskTemplateRef"];
            target: components["schemas"]["FleetTarget"];
            /**
             * Format: int32
             * @description How many children may be pending for their agents or running at once; the rest wait their turn, in order, and each child that ends lets the next one go.
             * @default 50
             * @example 50
             */
            concurrency?: number;
            /**
             * Format: int32
             * @description The rollout stops when failed children reach this percentage of the target (and at least one failed) — children not started are cancelled and the fleet task `failed`; `0` stops at the first failure, `100` never stops.
             * @default 100
             * @example 10
             */
            failure_threshold_percent?: number;
            /**
             * @description Give offline agents their child anyway, to run when they return. Otherwise (the default) an agent offline at creation gets a child that is `cancelled` at once with the error `BIZ_AGENT_OFFLINE: …`, counted as `skipped_offline`, and so does one that goes offline before claiming its child (the next child goes instead).
             * @default false
             * @example false
             */
            queue_if_offline?: boolean;
            /**
             * Format: uuid
             * @description The team the task belongs to, and within which its target is resolved; needed only when the caller belongs to several teams (a `group_id` target then names its group's team).
             * @example 0192f0a0-0000-7000-8000-00000000000a
             */
            team_id?: string;
        } & (unknown | unknown);
        /**
         * TaskScheduleName
         * @description A schedule's name, unique within its team regardless of case.
         * @example Weekly reboot of the web servers
         */
        TaskScheduleName: string;
        /**
         * TaskScheduleDescription
         * @description What the schedule is for, or `null`.
         * @example Patch window
         * @example Sundays at 03:00 Berlin time.
         */
        TaskScheduleDescription: string | null;
        /**
         * CronExpression
         * @description When a schedule is due, as a cron expression read in the schedule's `timezone`: five fields
         *     (`minute hour day-of-month month day-of-week`), or six with `second` first (`*\/30 * * * * *`). Names (`MON-FRI`,
         *     `JAN`), ranges, lists, steps, `L` (last day), `W` (nearest weekday) and `#` (nth weekday) are accepted, and so are
         *     the nicknames `@yearly`, `@monthly`, `@weekly`, `@daily` and `@hourly`. When both day fields are restricted, a day
         *     matching either is due, as in classic cron (`0 0 13 * FRI`: every 13th and every Friday). An expression that cannot be read, or that is never due (`0 0 30 2 *`), is refused with
         *     `422 VAL_INVALID_FORMAT` naming `cron`. Expressions are read by the maintained parser croner, not by hand.
         * @example 0 3 * * SUN
         */
        CronExpression: string;
        /**
         * TimeZoneName
         * @description An IANA time zone name (`Europe/Berlin`, `America/New_York`, `UTC`): the zone a schedule's cron expression is read
         *     in, daylight saving time included. A name the server's time zone database does not know is refused with
         *     `422 VAL_INVALID_FORMAT` naming `timezone`; offsets such as `+01:00` are not zone names.
         * @example Europe/Berlin
         */
        TimeZoneName: string;
        /**
         * TaskScheduleMissedRuns
         * @description What happens to due times missed while no server was running (a due time is missed when no server reached it
         *     within one scheduler tick, at least five seconds): `skip` records one `skipped_missed` execution for the latest
         *     missed due time, creates no task, and goes on with the next due time to come; `run_once` fires once, for the
         *     latest missed due time (an execution with `missed: true`), then goes on with the next due time to come. Either way
         *     the due times before the latest are not recorded one by one.
         * @example skip
         * @enum {string}
         */
        TaskScheduleMissedRuns: "skip" | "run_once";
        /**
         * TaskScheduleExecutionStatus
         * @description How a due time of a schedule ended: `fired` (a fleet-wide task was created, `task_id`), `skipped_missed` (the due
         *     time was missed while no server ran and the schedule's `missed_runs` is `skip`) or `failed` (no task could be
         *     created, `error` says why: for example the target resolved to no agent, or the template was deleted).
         * @example fired
         * @enum {string}
         */
        TaskScheduleExecutionStatus: "fired" | "skipped_missed" | "failed";
        /**
         * TaskScheduleExecution
         * @description One due time of a schedule and what came of it. Each due time has at most one execution, however many server processes run.
         * @example {
         *       "id": "0192f3c1-7a00-7b00-8c00-0000000000e1",
         *       "schedule_id": "0192f3c0-5d6e-7f80-9a1b-2c3d4e5f6a7b",
         *       "due_at": "2026-11-22T02:00:00.000Z",
         *       "fired_at": "2026-11-22T02:00:00.412Z",
         *       "task_id": "0192f1a0-1b2c-7d3e-8f40-5a6b7c8d9e0f",
         *       "status": "fired",
         *       "missed": false,
         *       "error": null
         *     }
         */
        TaskScheduleExecution: {
            /**
             * Format: uuid
             * @description The execution's id (UUIDv7).
             * @example 0192f3c1-7a00-7b00-8c00-0000000000e1
             */
            readonly id: string;
            /**
             * Format: uuid
             * @description The schedule it belongs to.
             * @example 0192f3c0-5d6e-7f80-9a1b-2c3d4e5f6a7b
             */
            readonly schedule_id: string;
            /**
             * Format: date-time
             * @description The due time of the cron expression this execution is for (RFC 3339, UTC).
             * @example 2026-11-22T02:00:00.000Z
             */
            readonly due_at: string;
            /**
             * Format: date-time
             * @description When a server acted on the due time (RFC 3339, UTC); later than `due_at` by up to one scheduler tick, or more when it was missed.
             * @example 2026-11-22T02:00:00.412Z
             */
            readonly fired_at: string;
            /**
             * Format: uuid
             * @description The fleet-wide (parent) task this firing created (`getTask`), or `null` when none was created.
             * @example 0192f1a0-1b2c-7d3e-8f40-5a6b7c8d9e0f
             */
            readonly task_id: string | null;
            status: components["schemas"]["TaskScheduleExecutionStatus"];
            /**
             * @description Whether the due time had been missed while no server ran (see `missed_runs`).
             * @example false
             */
            readonly missed: boolean;
            /**
             * @description Why no task was created (`failed`), or `null`. It starts with `skipped:` when the schedule's creator may no longer run it (see `TaskSchedule`).
             * @example null
             */
            readonly error: string | null;
        };
        /**
         * TaskScheduleFields
         * @description The fields of a task schedule, of which only `id` is always present: a list asked for with `fields=…` carries
         *     just the fields named. Without `fields`, every field is present, as in `TaskSchedule`.
         * @example {
         *       "id": "0192f3c0-5d6e-7f80-9a1b-2c3d4e5f6a7b",
         *       "name": "Weekly reboot of the web servers"
         *     }
         */
        TaskScheduleFields: {
            /**
             * Format: uuid
             * @description The schedule's id (UUIDv7).
             * @example 0192f3c0-5d6e-7f80-9a1b-2c3d4e5f6a7b
             */
            readonly id: string;
            /**
             * Format: uuid
             * @description The team that owns the schedule; its tasks run on that team's agents only.
             * @example 0192f0a0-0000-7000-8000-00000000000a
             */
            readonly team_id?: string;
            name?: components["schemas"]["TaskScheduleName"];
            description?: components["schemas"]["TaskScheduleDescription"];
            cron?: components["schemas"]["CronExpression"];
            timezone?: components["schemas"]["TimeZoneName"];
            /**
             * @description Whether the schedule fires. A disabled schedule has no `next_runs`; enabling it again starts from the next due time to come (the due times in between are not missed runs).
             * @example true
             */
            enabled?: boolean;
            missed_runs?: components["schemas"]["TaskScheduleMissedRuns"];
            run?: components["schemas"]["CreateTaskRequest"];
            /**
             * @description The next (at most five) due times, RFC 3339 UTC, computed from the cron expression in the schedule's time
             *     zone; the first is the one the scheduler waits for (it may be in the past for a moment, until a server
             *     fires it). Empty when the schedule is disabled.
             * @example [
             *       "2026-11-22T02:00:00.000Z",
             *       "2026-11-29T02:00:00.000Z"
             *     ]
             */
            readonly next_runs?: string[];
            /** @description The most recent execution (by due time), or `null` before the first. */
            last_execution?: components["schemas"]["TaskScheduleExecution"] | null;
            /**
             * Format: uuid
             * @description The user who created the schedule, or `null` (a deleted user); its tasks are created in that user's name.
             * @example 0192f0d2-1a2b-7c3d-8e4f-5a6b7c8d9e0f
             */
            readonly created_by?: string | null;
            /**
             * Format: date-time
             * @description When the schedule was created (RFC 3339, UTC).
             * @example 2026-11-10T09:00:00.000Z
             */
            readonly created_at?: string;
            /**
             * Format: date-time
             * @description When the schedule last changed (RFC 3339, UTC), by a user or by firing (which moves `next_runs` and `last_execution`).
             * @example 2026-11-20T14:45:00.000Z
             */
            readonly updated_at?: string;
        };
        /**
         * TaskScheduleListEnvelope
         * @description A page of task schedules, in the success envelope.
         */
        TaskScheduleListEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            /** @description The schedules of this page, each trimmed to `fields` when that was asked for. */
            data: components["schemas"]["TaskScheduleFields"][];
            meta: components["schemas"]["Meta"];
            pagination: components["schemas"]["Pagination"];
        };
        /**
         * TaskScheduleCreate
         * @description A new schedule. `team_id` may be left out when the caller belongs to exactly one team.
         * @example {
         *       "name": "Weekly reboot of the web servers",
         *       "description": "Patch window, Sundays at 03:00 Berlin time.",
         *       "cron": "0 3 * * SUN",
         *       "timezone": "Europe/Berlin",
         *       "missed_runs": "skip",
         *       "run": {
         *         "action": {
         *           "type": "reboot",
         *           "parameters": {
         *             "reason": "Weekly patch window"
         *           }
         *         },
         *         "target": {
         *           "group_id": "0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60"
         *         },
         *         "concurrency": 5,
         *         "failure_threshold_percent": 10
         *       }
         *     }
         */
        TaskScheduleCreate: {
            name: components["schemas"]["TaskScheduleName"];
            description?: components["schemas"]["TaskScheduleDescription"];
            cron: components["schemas"]["CronExpression"];
            timezone: components["schemas"]["TimeZoneName"];
            /**
             * @description Whether the schedule fires (default `true`).
             * @default true
             * @example true
             */
            enabled?: boolean;
            /**
             * @description What happens to due times missed while no server ran (default `skip`); see `TaskScheduleMissedRuns`.
             * @default skip
             */
            missed_runs?: components["schemas"]["TaskScheduleMissedRuns"];
            run: components["schemas"]["CreateTaskRequest"];
            /**
             * Format: uuid
             * @description The team that will own the schedule (one of the caller's); defaults to the caller's only team.
             * @example 0192f0a0-0000-7000-8000-00000000000a
             */
            team_id?: string;
        };
        /**
         * TaskSchedule
         * @description A fleet-wide task run on a cron expression in a time zone: at each due time one server process (of however many
         *     run) creates the fleet-wide task in `run`, as `createTask` would for the schedule's creator, and records an execution.
         *     The schedule acts in its creator's name only while that user exists, is active, is a member of the schedule's team
         *     and has `tasks:execute`; otherwise a due time creates no task and is recorded as a `failed` execution whose `error`
         *     starts with `skipped:` and says which of these no longer holds (the schedule stays enabled and `last_execution` shows it).
         * @example {
         *       "id": "0192f3c0-5d6e-7f80-9a1b-2c3d4e5f6a7b",
         *       "team_id": "0192f0a0-0000-7000-8000-00000000000a",
         *       "name": "Weekly reboot of the web servers",
         *       "description": "Patch window, Sundays at 03:00 Berlin time.",
         *       "cron": "0 3 * * SUN",
         *       "timezone": "Europe/Berlin",
         *       "enabled": true,
         *       "missed_runs": "skip",
         *       "run": {
         *         "action": {
         *           "type": "reboot",
         *           "parameters": {
         *             "reason": "Weekly patch window"
         *           }
         *         },
         *         "target": {
         *           "group_id": "0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60"
         *         },
         *         "concurrency": 5,
         *         "failure_threshold_percent": 10
         *       },
         *       "next_runs": [
         *         "2026-11-22T02:00:00.000Z",
         *         "2026-11-29T02:00:00.000Z",
         *         "2026-12-06T02:00:00.000Z",
         *         "2026-12-13T02:00:00.000Z",
         *         "2026-12-20T02:00:00.000Z"
         *       ],
         *       "last_execution": {
         *         "id": "0192f3c1-7a00-7b00-8c00-0000000000e1",
         *         "schedule_id": "0192f3c0-5d6e-7f80-9a1b-2c3d4e5f6a7b",
         *         "due_at": "2026-11-15T02:00:00.000Z",
         *         "fired_at": "2026-11-15T02:00:00.412Z",
         *         "task_id": "0192f1a0-1b2c-7d3e-8f40-5a6b7c8d9e0f",
         *         "status": "fired",
         *         "missed": false,
         *         "error": null
         *       },
         *       "created_by": "0192f0d2-1a2b-7c3d-8e4f-5a6b7c8d9e0f",
         *       "created_at": "2026-11-10T09:00:00.000Z",
         *       "updated_at": "2026-11-10T09:00:00.000Z"
         *     }
         */
        TaskSchedule: WithRequired<components["schemas"]["TaskScheduleFields"], "team_id" | "name" | "description" | "cron" | "timezone" | "enabled" | "missed_runs" | "run" | "next_runs" | "last_execution" | "created_by" | "created_at" | "updated_at">;
        /**
         * TaskScheduleEnvelope
         * @description A task schedule, in the success envelope.
         */
        TaskScheduleEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            data: components["schemas"]["TaskSchedule"];
            meta: components["schemas"]["Meta"];
        };
        /**
         * TaskSchedulePatch
         * @description A JSON merge patch of a schedule: a present key sets, `null` clears the description; `run` is replaced as a whole.
         *     A changed `cron` or `timezone`, or enabling, recomputes the next due time from now. A schedule never changes team.
         * @example {
         *       "enabled": false
         *     }
         */
        TaskSchedulePatch: {
            name?: components["schemas"]["TaskScheduleName"];
            description?: components["schemas"]["TaskScheduleDescription"];
            cron?: components["schemas"]["CronExpression"];
            timezone?: components["schemas"]["TimeZoneName"];
            /**
             * @description Turn the schedule on or off.
             * @example false
             */
            enabled?: boolean;
            missed_runs?: components["schemas"]["TaskScheduleMissedRuns"];
            run?: components["schemas"]["CreateTaskRequest"];
        };
        /**
         * TaskScheduleExecutionListEnvelope
         * @description A page of a schedule's executions, in the success envelope.
         */
        TaskScheduleExecutionListEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            /** @description The executions of this page. */
            data: components["schemas"]["TaskScheduleExecution"][];
            meta: components["schemas"]["Meta"];
            pagination: components["schemas"]["Pagination"];
        };
        /**
         * Task
         * @description A long-running operation on one agent, or on many (a fleet task and its children), from the moment it is asked for until it finishes.
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
         *       "finished_at": null,
         *       "kind": "agent",
         *       "parent_id": null,
         *       "template_id": null,
         *       "template_version": null,
         *       "fleet": null
         *     }
         */
        Task: WithRequired<components["schemas"]["TaskFields"], "team_id" | "agent_id" | "kind" | "parent_id" | "template_id" | "template_version" | "fleet" | "type" | "status" | "progress" | "eta" | "parameters" | "result" | "error" | "attempt" | "retry_of" | "queued_offline" | "created_by" | "created_at" | "updated_at" | "started_at" | "finished_at">;
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
         * ArtifactName
         * @description An artifact's file name, unique within its task: any characters of any script except control characters,
         *     bidirectional overrides and `/ \ : * ? " < > |` (no path); it neither starts with a dot or a space (no hidden or
         *     relative names such as `..`) nor ends with one.
         * @example reboot.log
         */
        ArtifactName: string;
        /**
         * TaskArtifact
         * @description A file an agent uploaded for one of its tasks, as stored; its bytes are downloaded with `downloadTaskArtifact`.
         * @example {
         *       "id": "0192f1b0-4d5e-7f60-8a1b-2c3d4e5f6a7b",
         *       "task_id": "0192f1a0-1b2c-7d3e-8f40-5a6b7c8d9e0f",
         *       "team_id": "0192f0a0-0000-7000-8000-00000000000a",
         *       "agent_id": "0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d",
         *       "name": "reboot.log",
         *       "content_type": "text/plain; charset=utf-8",
         *       "size_bytes": 48213,
         *       "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
         *       "created_at": "2026-11-21T10:31:02.000Z"
         *     }
         */
        TaskArtifact: {
            /**
             * Format: uuid
             * @description The artifact's id.
             * @example 0192f1b0-4d5e-7f60-8a1b-2c3d4e5f6a7b
             */
            id: string;
            /**
             * Format: uuid
             * @description The task it belongs to.
             * @example 0192f1a0-1b2c-7d3e-8f40-5a6b7c8d9e0f
             */
            task_id: string;
            /**
             * Format: uuid
             * @description The team of its task.
             * @example 0192f0a0-0000-7000-8000-00000000000a
             */
            team_id: string;
            /**
             * Format: uuid
             * @description The agent that uploaded it (its task's agent).
             * @example 0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d
             */
            agent_id: string;
            name: components["schemas"]["ArtifactName"];
            /**
             * @description The media type the agent gave (its upload's `Content-Type`), sent back as the download's `Content-Type`.
             * @example text/plain; charset=utf-8
             */
            content_type: string;
            /**
             * Format: int64
             * @description Its size in bytes.
             * @example 48213
             */
            size_bytes: number;
            /**
             * @description The SHA-256 of its bytes, in lowercase hex, computed by the server as they arrived.
             * @example 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
             */
            sha256: string;
            /**
             * Format: date-time
             * @description When its upload completed (RFC 3339, UTC).
             * @example 2026-11-21T10:31:02.000Z
             */
            created_at: string;
        };
        /**
         * TaskArtifactListEnvelope
         * @description A page of a task's artifacts (their metadata), in the success envelope.
         */
        TaskArtifactListEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            /** @description The artifacts of this page. */
            data: components["schemas"]["TaskArtifact"][];
            meta: components["schemas"]["Meta"];
            pagination: components["schemas"]["Pagination"];
        };
        /**
         * ArtifactContent
         * Format: binary
         * @description A task artifact's bytes, as they are. `maxLength` is the largest artifact in bytes: the server reads its upload
         *     limit from it (a larger upload is `413`).
         * @example Rebooting host web-01 for kernel 6.8.0-49
         */
        ArtifactContent: string;
        /**
         * TaskTemplateName
         * @description A task template's name, unique within its team regardless of case.
         * @example Restart a systemd unit
         */
        TaskTemplateName: string;
        /**
         * TaskTemplateDescription
         * @description What the template is for, or `null`.
         * @example Restarts one unit with systemctl; the caller names the unit and says why.
         */
        TaskTemplateDescription: string | null;
        /**
         * TaskTemplateDefaults
         * @description The parameters a run of the template starts from: the caller's `parameters` are merged over them (key by
         *     key, the caller's value winning), and the result is checked against `parameters_schema` and must be valid
         *     task parameters (`TaskParameters`).
         * @example {
         *       "command": "systemctl",
         *       "args": [
         *         "restart",
         *         "nginx"
         *       ],
         *       "timeout_seconds": 60
         *     }
         */
        TaskTemplateDefaults: components["schemas"]["TaskParameters"];
        /**
         * TaskTemplateSchemaValue8
         * @description A value at depth 8 of a template's parameters schema (`TaskTemplateParametersSchema`), the deepest allowed, where only scalars may stand.
         * @example string
         */
        TaskTemplateSchemaValue8: string | number | boolean | null;
        /**
         * TaskTemplateSchemaValue7
         * @description A value at depth 7 of a template's parameters schema (`TaskTemplateParametersSchema`); a scalar, or an array or object of values one level deeper.
         * @example string
         */
        TaskTemplateSchemaValue7: (string | number | boolean | null) | components["schemas"]["TaskTemplateSchemaValue8"][] | {
            [key: string]: components["schemas"]["TaskTemplateSchemaValue8"];
        };
        /**
         * TaskTemplateSchemaValue6
         * @description A value at depth 6 of a template's parameters schema (`TaskTemplateParametersSchema`); a scalar, or an array or object of values one level deeper.
         * @example string
         */
        TaskTemplateSchemaValue6: (string | number | boolean | null) | components["schemas"]["TaskTemplateSchemaValue7"][] | {
            [key: string]: components["schemas"]["TaskTemplateSchemaValue7"];
        };
        /**
         * TaskTemplateSchemaValue5
         * @description A value at depth 5 of a template's parameters schema (`TaskTemplateParametersSchema`); a scalar, or an array or object of values one level deeper.
         * @example string
         */
        TaskTemplateSchemaValue5: (string | number | boolean | null) | components["schemas"]["TaskTemplateSchemaValue6"][] | {
            [key: string]: components["schemas"]["TaskTemplateSchemaValue6"];
        };
        /**
         * TaskTemplateSchemaValue4
         * @description A value at depth 4 of a template's parameters schema (`TaskTemplateParametersSchema`); a scalar, or an array or object of values one level deeper.
         * @example string
         */
        TaskTemplateSchemaValue4: (string | number | boolean | null) | components["schemas"]["TaskTemplateSchemaValue5"][] | {
            [key: string]: components["schemas"]["TaskTemplateSchemaValue5"];
        };
        /**
         * TaskTemplateSchemaValue3
         * @description A value at depth 3 of a template's parameters schema (`TaskTemplateParametersSchema`); a scalar, or an array or object of values one level deeper.
         * @example string
         */
        TaskTemplateSchemaValue3: (string | number | boolean | null) | components["schemas"]["TaskTemplateSchemaValue4"][] | {
            [key: string]: components["schemas"]["TaskTemplateSchemaValue4"];
        };
        /**
         * TaskTemplateSchemaValue2
         * @description A value at depth 2 of a template's parameters schema (`TaskTemplateParametersSchema`); a scalar, or an array or object of values one level deeper.
         * @example string
         */
        TaskTemplateSchemaValue2: (string | number | boolean | null) | components["schemas"]["TaskTemplateSchemaValue3"][] | {
            [key: string]: components["schemas"]["TaskTemplateSchemaValue3"];
        };
        /**
         * TaskTemplateSchemaValue1
         * @description A value at depth 1 of a template's parameters schema (`TaskTemplateParametersSchema`); a scalar, or an array or object of values one level deeper.
         * @example string
         */
        TaskTemplateSchemaValue1: (string | number | boolean | null) | components["schemas"]["TaskTemplateSchemaValue2"][] | {
            [key: string]: components["schemas"]["TaskTemplateSchemaValue2"];
        };
        /**
         * TaskTemplateParametersSchema
         * @description A JSON Schema (draft 2020-12) the merged parameters of every run must satisfy; the server compiles it when the
         *     template is written and refuses one it cannot compile with `422 VAL_INVALID_SCHEMA`, as it refuses a keyword
         *     or a `format` that draft 2020-12 (and this contract) does not define, rather than ignore it. Its size is bounded: at
         *     most 100 keys or items per object or array, strings of at most 4,096 characters, and values nested at most 8
         *     levels below this object, the eighth holding scalars only (deeper values are refused like any invalid body).
         *     `{}` accepts any parameters.
         * @example {
         *       "type": "object",
         *       "required": [
         *         "args",
         *         "reason"
         *       ],
         *       "properties": {
         *         "command": {
         *           "const": "systemctl"
         *         },
         *         "args": {
         *           "type": "array",
         *           "prefixItems": [
         *             {
         *               "enum": [
         *                 "restart",
         *                 "reload"
         *               ]
         *             }
         *           ],
         *           "items": {
         *             "type": "string",
         *             "maxLength": 64,
         *             "pattern": "^[a-z0-9@._-]+$"
         *           },
         *           "minItems": 2,
         *           "maxItems": 2
         *         },
         *         "reason": {
         *           "type": "string",
         *           "minLength": 3,
         *           "maxLength": 200
         *         }
         *       }
         *     }
         */
        TaskTemplateParametersSchema: {
            [key: string]: components["schemas"]["TaskTemplateSchemaValue1"];
        };
        /**
         * TaskTemplateFields
         * @description The fields of a task template, of which only `id` is always present: a list asked for with `fields=…`
         *     carries just the fields named. Without `fields`, every field is present, as in `TaskTemplate`.
         * @example {
         *       "id": "0193a1c0-7d2e-7f10-9a4b-5c6d7e8f9a01",
         *       "name": "Restart a systemd unit"
         *     }
         */
        TaskTemplateFields: {
            /**
             * Format: uuid
             * @description The template's id (UUIDv7).
             * @example 0193a1c0-7d2e-7f10-9a4b-5c6d7e8f9a01
             */
            readonly id: string;
            /**
             * Format: uuid
             * @description The team that owns the template; only its members see and run it.
             * @example 0192f0a0-0000-7000-8000-00000000000a
             */
            readonly team_id?: string;
            name?: components["schemas"]["TaskTemplateName"];
            description?: components["schemas"]["TaskTemplateDescription"];
            /** @description The action a run of the template performs on each agent. */
            action?: components["schemas"]["TaskType"];
            defaults?: components["schemas"]["TaskTemplateDefaults"];
            parameters_schema?: components["schemas"]["TaskTemplateParametersSchema"];
            /**
             * Format: int32
             * @description The template's current version; it starts at 1 and each change makes a new one (`listTaskTemplateVersions`).
             * @example 3
             */
            readonly version?: number;
            /**
             * Format: date-time
             * @description When the template was created (RFC 3339, UTC).
             * @example 2026-12-01T09:00:00.000Z
             */
            readonly created_at?: string;
            /**
             * Format: date-time
             * @description When its current version was made (RFC 3339, UTC).
             * @example 2026-12-02T16:20:00.000Z
             */
            readonly updated_at?: string;
        };
        /**
         * TaskTemplateListEnvelope
         * @description A page of task templates, in the success envelope.
         */
        TaskTemplateListEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            /** @description The task templates of this page, each trimmed to `fields` when that was asked for. */
            data: components["schemas"]["TaskTemplateFields"][];
            meta: components["schemas"]["Meta"];
            pagination: components["schemas"]["Pagination"];
        };
        /**
         * TaskTemplateCreate
         * @description A new task template. `team_id` may be left out when the caller belongs to exactly one team.
         * @example {
         *       "name": "Restart a systemd unit",
         *       "action": "command",
         *       "defaults": {
         *         "command": "systemctl",
         *         "args": [
         *           "restart",
         *           "nginx"
         *         ],
         *         "timeout_seconds": 60
         *       },
         *       "parameters_schema": {
         *         "type": "object",
         *         "required": [
         *           "reason"
         *         ],
         *         "properties": {
         *           "command": {
         *             "const": "systemctl"
         *           },
         *           "reason": {
         *             "type": "string",
         *             "minLength": 3,
         *             "maxLength": 200
         *           }
         *         }
         *       }
         *     }
         */
        TaskTemplateCreate: {
            name: components["schemas"]["TaskTemplateName"];
            description?: components["schemas"]["TaskTemplateDescription"];
            /** @description The action a run of the template performs on each agent. */
            action: components["schemas"]["TaskType"];
            /** @description The parameters a run starts from; `{}` when left out. */
            defaults?: components["schemas"]["TaskTemplateDefaults"];
            /** @description The JSON Schema the merged parameters of every run must satisfy; `{}` (anything) when left out. */
            parameters_schema?: components["schemas"]["TaskTemplateParametersSchema"];
            /**
             * Format: uuid
             * @description The team that will own the template (one of the caller's); defaults to the caller's only team.
             * @example 0192f0a0-0000-7000-8000-00000000000a
             */
            team_id?: string;
        };
        /**
         * TaskTemplate
         * @description A named, reusable action of one team: what to do (`action`), the parameters it starts from (`defaults`) and
         *     the JSON Schema the parameters of every run must satisfy (`parameters_schema`). Editing a template makes a new
         *     version; tasks record the version they ran.
         * @example {
         *       "id": "0193a1c0-7d2e-7f10-9a4b-5c6d7e8f9a01",
         *       "team_id": "0192f0a0-0000-7000-8000-00000000000a",
         *       "name": "Restart a systemd unit",
         *       "description": "Restarts one unit with systemctl; the caller names the unit and says why.",
         *       "action": "command",
         *       "defaults": {
         *         "command": "systemctl",
         *         "args": [
         *           "restart",
         *           "nginx"
         *         ],
         *         "timeout_seconds": 60
         *       },
         *       "parameters_schema": {
         *         "type": "object",
         *         "required": [
         *           "reason"
         *         ],
         *         "properties": {
         *           "command": {
         *             "const": "systemctl"
         *           },
         *           "reason": {
         *             "type": "string",
         *             "minLength": 3,
         *             "maxLength": 200
         *           }
         *         }
         *       },
         *       "version": 2,
         *       "created_at": "2026-12-01T09:00:00.000Z",
         *       "updated_at": "2026-12-02T16:20:00.000Z"
         *     }
         */
        TaskTemplate: WithRequired<components["schemas"]["TaskTemplateFields"], "team_id" | "name" | "description" | "action" | "defaults" | "parameters_schema" | "version" | "created_at" | "updated_at">;
        /**
         * TaskTemplateEnvelope
         * @description A task template, in the success envelope.
         */
        TaskTemplateEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            data: components["schemas"]["TaskTemplate"];
            meta: components["schemas"]["Meta"];
        };
        /**
         * TaskTemplatePatch
         * @description A JSON merge patch of a task template; a template never changes team. `defaults` and `parameters_schema` are
         *     replaced as a whole when present. Any change makes a new version.
         * @example {
         *       "defaults": {
         *         "command": "systemctl",
         *         "args": [
         *           "restart",
         *           "nginx"
         *         ],
         *         "timeout_seconds": 120
         *       }
         *     }
         */
        TaskTemplatePatch: {
            name?: components["schemas"]["TaskTemplateName"];
            description?: components["schemas"]["TaskTemplateDescription"];
            /** @description The action a run of the template performs on each agent. */
            action?: components["schemas"]["TaskType"];
            /** @description The new defaults, replacing the old ones as a whole. */
            defaults?: components["schemas"]["TaskTemplateDefaults"];
            /** @description The new JSON Schema, replacing the old one as a whole. */
            parameters_schema?: components["schemas"]["TaskTemplateParametersSchema"];
        };
        /**
         * TaskTemplateVersion
         * @description One version of a task template, as it was when that version was made; versions never change.
         * @example {
         *       "template_id": "0193a1c0-7d2e-7f10-9a4b-5c6d7e8f9a01",
         *       "version": 1,
         *       "name": "Restart a systemd unit",
         *       "description": null,
         *       "action": "command",
         *       "defaults": {
         *         "command": "systemctl",
         *         "args": [
         *           "restart",
         *           "nginx"
         *         ]
         *       },
         *       "parameters_schema": {},
         *       "created_at": "2026-12-01T09:00:00.000Z"
         *     }
         */
        TaskTemplateVersion: {
            /**
             * Format: uuid
             * @description The template this is a version of.
             * @example 0193a1c0-7d2e-7f10-9a4b-5c6d7e8f9a01
             */
            template_id: string;
            /**
             * Format: int32
             * @description The version number, from 1.
             * @example 1
             */
            version: number;
            name: components["schemas"]["TaskTemplateName"];
            description: components["schemas"]["TaskTemplateDescription"];
            /** @description The action of this version. */
            action: components["schemas"]["TaskType"];
            defaults: components["schemas"]["TaskTemplateDefaults"];
            parameters_schema: components["schemas"]["TaskTemplateParametersSchema"];
            /**
             * Format: date-time
             * @description When this version was made (RFC 3339, UTC).
             * @example 2026-12-01T09:00:00.000Z
             */
            created_at: string;
        };
        /**
         * TaskTemplateVersionListEnvelope
         * @description A page of a task template's versions, in the success envelope.
         */
        TaskTemplateVersionListEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            /** @description The versions of this page. */
            data: components["schemas"]["TaskTemplateVersion"][];
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
         * TaskArtifactEnvelope
         * @description A task artifact's metadata, in the success envelope.
         */
        TaskArtifactEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            data: components["schemas"]["TaskArtifact"];
            meta: components["schemas"]["Meta"];
        };
        /**
         * PackageName
         * @description A package's name as the host's package manager knows it (dpkg, rpm, apk, Homebrew, winget…).
         * @example openssl
         */
        PackageName: string;
        /**
         * PackageVersion
         * @description A package version as the package manager prints it (`3.0.13-0ubuntu3.4`, `2:1.2.3`). Version filters compare
         *     the runs of digits in it as numbers, from left to right, ignoring everything else (so `1.20.1` > `1.9.9`,
         *     and `1.0` < `1.0.0`).
         * @example 3.0.13-0ubuntu3.4
         */
        PackageVersion: string;
        /**
         * PackageArchitecture
         * @description The architecture the package was built for (`amd64`, `x86_64`, `arm64`, `noarch`…), or `null` when the package manager does not say.
         * @example amd64
         */
        PackageArchitecture: string | null;
        /**
         * PackageEcosystem
         * @description The ecosystem a package comes from, named as OSV names it (`npm`, `PyPI`, `Debian:12`, `Ubuntu:24.04`,
         *     `Alpine:v3.20`, `Go`, `crates.io`, …): the name, optionally followed by `:` and a release. An advisory for an
         *     ecosystem without a release (`Debian`) applies to packages of every release of it (`Debian:12`), and one with
         *     a release (`Ubuntu:24.04:LTS`) to packages of that release (`Ubuntu:24.04`): two ecosystems match when one is
         *     the other followed by `:` and more.
         * @example Debian:12
         */
        PackageEcosystem: string;
        /**
         * PackageReport
         * @description One installed package, as an agent reports it.
         * @example {
         *       "name": "openssl",
         *       "version": "3.0.13-0ubuntu3.4",
         *       "available_version": "3.0.13-0ubuntu3.5",
         *       "architecture": "amd64"
         *     }
         */
        PackageReport: {
            name: components["schemas"]["PackageName"];
            version: components["schemas"]["PackageVersion"];
            /**
             * @description The newer version the host's package sources offer, or `null` (or left out) when it is up to date.
             * @example 3.0.13-0ubuntu3.5
             */
            available_version?: string | null;
            architecture?: components["schemas"]["PackageArchitecture"];
            /**
             * @description The package's ecosystem (`npm`, `PyPI`, `Debian:12`…), which advisories are matched by. Left out, it is
             *     the ecosystem of the agent's operating system, read from its `os_version` (`Ubuntu 24.04.1 LTS` →
             *     `Ubuntu:24.04`), or none.
             */
            ecosystem?: components["schemas"]["PackageEcosystem"];
        };
        /**
         * SystemServiceState
         * @description What a system service is doing: `running`, `stopped` (on purpose, or never started) or `failed` (it exited with an error or crashed).
         * @example running
         * @enum {string}
         */
        SystemServiceState: "running" | "stopped" | "failed";
        /**
         * SystemService
         * @description One system service (a systemd unit, launchd job, Windows service…) of an agent, as of its last inventory report.
         * @example {
         *       "name": "nginx.service",
         *       "state": "running",
         *       "enabled": true
         *     }
         */
        SystemService: {
            /**
             * @description The service's name as the host's service manager knows it.
             * @example nginx.service
             */
            name: string;
            state: components["schemas"]["SystemServiceState"];
            /**
             * @description Whether the service starts at boot.
             * @example true
             */
            enabled: boolean;
        };
        /**
         * HardwareReport
         * @description The host's hardware facts, as an agent reports them.
         * @example {
         *       "cpu_model": "AMD EPYC 7R13 Processor",
         *       "cpu_cores": 8,
         *       "memory_bytes": 34359738368,
         *       "disk_bytes": 536870912000,
         *       "architecture": "x86_64",
         *       "virtualization": "kvm",
         *       "manufacturer": "Amazon EC2",
         *       "model": "m6a.2xlarge"
         *     }
         */
        HardwareReport: {
            /**
             * @description The processor's model name.
             * @example AMD EPYC 7R13 Processor
             */
            cpu_model: string;
            /**
             * Format: int32
             * @description How many logical processors the host has.
             * @example 8
             */
            cpu_cores: number;
            /**
             * Format: int64
             * @description Physical memory, in bytes.
             * @example 34359738368
             */
            memory_bytes: number;
            /**
             * Format: int64
             * @description The capacity of the host's local disks, in bytes.
             * @example 536870912000
             */
            disk_bytes: number;
            /**
             * @description The machine architecture (`x86_64`, `aarch64`…), or `null` when unknown.
             * @example x86_64
             */
            architecture?: string | null;
            /**
             * @description The hypervisor or container runtime the host runs under (`kvm`, `vmware`, `docker`…), `none` on bare metal, or `null` when unknown.
             * @example kvm
             */
            virtualization?: string | null;
            /**
             * @description The system's manufacturer, or `null` when unknown.
             * @example Amazon EC2
             */
            manufacturer?: string | null;
            /**
             * @description The system's model or product name, or `null` when unknown.
             * @example m6a.2xlarge
             */
            model?: string | null;
        };
        /**
         * InventoryReport
         * @description An agent's whole inventory: every installed package, every system service and the hardware facts. It
         *     replaces the previous report entirely. A package appears once per name, version, architecture and ecosystem; a
         *     service once per name. The body must also fit the server's body limit (1 MiB by default), else 413.
         * @example {
         *       "packages": [
         *         {
         *           "name": "openssl",
         *           "version": "3.0.13-0ubuntu3.4",
         *           "available_version": "3.0.13-0ubuntu3.5",
         *           "architecture": "amd64"
         *         },
         *         {
         *           "name": "nginx",
         *           "version": "1.24.0-2ubuntu7"
         *         }
         *       ],
         *       "services": [
         *         {
         *           "name": "nginx.service",
         *           "state": "running",
         *           "enabled": true
         *         }
         *       ],
         *       "hardware": {
         *         "cpu_model": "AMD EPYC 7R13 Processor",
         *         "cpu_cores": 8,
         *         "memory_bytes": 34359738368,
         *         "disk_bytes": 536870912000,
         *         "architecture": "x86_64",
         *         "virtualization": "kvm"
         *       }
         *     }
         */
        InventoryReport: {
            /** @description Every installed package (at most 10,000). */
            packages: components["schemas"]["PackageReport"][];
            /** @description Every system service (at most 2,000). */
            services: components["schemas"]["SystemService"][];
            hardware: components["schemas"]["HardwareReport"];
        };
        /**
         * InventorySummary
         * @description What the server now holds of an agent's inventory, after a report.
         * @example {
         *       "agent_id": "0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d",
         *       "packages": 2,
         *       "services": 1,
         *       "updates_available": 1,
         *       "reported_at": "2026-11-21T10:30:00.000Z"
         *     }
         */
        InventorySummary: {
            /**
             * Format: uuid
             * @description The agent.
             * @example 0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d
             */
            agent_id: string;
            /**
             * Format: int32
             * @description How many packages it reported.
             * @example 2
             */
            packages: number;
            /**
             * Format: int32
             * @description How many services it reported.
             * @example 1
             */
            services: number;
            /**
             * Format: int32
             * @description How many of its packages have a newer version available.
             * @example 1
             */
            updates_available: number;
            /**
             * Format: date-time
             * @description When the report was stored (RFC 3339, UTC).
             * @example 2026-11-21T10:30:00.000Z
             */
            reported_at: string;
        };
        /**
         * InventorySummaryEnvelope
         * @description An inventory summary, in the success envelope.
         */
        InventorySummaryEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            data: components["schemas"]["InventorySummary"];
            meta: components["schemas"]["Meta"];
        };
        /**
         * MetricName
         * @description The name of a metric, chosen by the agent that reports it: lowercase letters, digits and underscores, starting
         *     with a letter or an underscore, at most 100 characters (the names Prometheus accepts, without colons or capitals,
         *     so a series can be exported as is). The four names agents have always reported keep their meaning:
         *     `cpu_usage`, `memory_usage` and `disk_usage` in percent (0–100), `load_1m` the one-minute load average.
         * @example cpu_usage
         * @example http_requests_per_second
         */
        MetricName: string;
        /**
         * MetricLabels
         * @description Labels that tell series of one metric apart (`{"mount": "/var"}` for `disk_usage`, `{"interface": "eth0"}`):
         *     at most 8, each key lowercase letters, digits and underscores (at most 63 characters, not starting with a digit),
         *     each value 1 to 128 characters. A sample without labels has the empty set. Samples with different labels are
         *     different series; `getAgentMetrics` aggregates all of a metric's series, `queryMetrics` can group by a label.
         * @example {
         *       "mount": "/var"
         *     }
         */
        MetricLabels: {
            [key: string]: string;
        };
        /**
         * MetricSample
         * @description One measurement of one metric (and labels) at one time. A second sample of the same metric with the same labels at the same time replaces the first.
         * @example {
         *       "name": "cpu_usage",
         *       "at": "2026-11-21T10:30:00Z",
         *       "value": 42.5
         *     }
         * @example {
         *       "name": "disk_usage",
         *       "at": "2026-11-21T10:30:00Z",
         *       "value": 71.5,
         *       "labels": {
         *         "mount": "/var"
         *       }
         *     }
         */
        MetricSample: {
            name: components["schemas"]["MetricName"];
            /**
             * Format: date-time
             * @description When it was measured (RFC 3339); at most 5 minutes in the future by the server's clock.
             * @example 2026-11-21T10:30:00Z
             */
            at: string;
            /**
             * Format: double
             * @description The measured value; a percentage (0–100) for `cpu_usage`, `memory_usage` and `disk_usage`.
             * @example 42.5
             */
            value: number;
            labels?: components["schemas"]["MetricLabels"];
        };
        /**
         * MetricReport
         * @description A batch of metric samples from an agent: at most 1,000 samples of at most `x-metrics.report_max_names` (100)
         *     distinct metric names.
         * @example {
         *       "samples": [
         *         {
         *           "name": "cpu_usage",
         *           "at": "2026-11-21T10:30:00Z",
         *           "value": 42.5
         *         },
         *         {
         *           "name": "memory_usage",
         *           "at": "2026-11-21T10:30:00Z",
         *           "value": 61.2
         *         },
         *         {
         *           "name": "disk_usage",
         *           "at": "2026-11-21T10:30:00Z",
         *           "value": 71.5,
         *           "labels": {
         *             "mount": "/var"
         *           }
         *         }
         *       ]
         *     }
         */
        MetricReport: {
            /** @description The samples (1 to 1,000), in any order. */
            samples: components["schemas"]["MetricSample"][];
        };
        /**
         * Package
         * @description One package installed on an agent, as of its last inventory report.
         * @example {
         *       "name": "openssl",
         *       "version": "3.0.13-0ubuntu3.4",
         *       "available_version": "3.0.13-0ubuntu3.5",
         *       "architecture": "amd64"
         *     }
         */
        Package: {
            name: components["schemas"]["PackageName"];
            version: components["schemas"]["PackageVersion"];
            /**
             * @description The newer version the host's package sources offer, or `null` when it is up to date.
             * @example 3.0.13-0ubuntu3.5
             */
            available_version: string | null;
            architecture: components["schemas"]["PackageArchitecture"];
        };
        /**
         * PackageListEnvelope
         * @description A page of an agent's packages, in the success envelope.
         */
        PackageListEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            /** @description The packages of this page. */
            data: components["schemas"]["Package"][];
            meta: components["schemas"]["Meta"];
            pagination: components["schemas"]["Pagination"];
        };
        /**
         * SystemServiceListEnvelope
         * @description A page of an agent's system services, in the success envelope.
         */
        SystemServiceListEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            /** @description The services of this page. */
            data: components["schemas"]["SystemService"][];
            meta: components["schemas"]["Meta"];
            pagination: components["schemas"]["Pagination"];
        };
        /**
         * Hardware
         * @description An agent's hardware facts, as of its last inventory report.
         * @example {
         *       "agent_id": "0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d",
         *       "cpu_model": "AMD EPYC 7R13 Processor",
         *       "cpu_cores": 8,
         *       "memory_bytes": 34359738368,
         *       "disk_bytes": 536870912000,
         *       "architecture": "x86_64",
         *       "virtualization": "kvm",
         *       "manufacturer": "Amazon EC2",
         *       "model": "m6a.2xlarge",
         *       "reported_at": "2026-11-21T10:30:00.000Z"
         *     }
         */
        Hardware: {
            /**
             * Format: uuid
             * @description The agent.
             * @example 0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d
             */
            agent_id: string;
            /**
             * @description The processor's model name.
             * @example AMD EPYC 7R13 Processor
             */
            cpu_model: string;
            /**
             * Format: int32
             * @description How many logical processors the host has.
             * @example 8
             */
            cpu_cores: number;
            /**
             * Format: int64
             * @description Physical memory, in bytes.
             * @example 34359738368
             */
            memory_bytes: number;
            /**
             * Format: int64
             * @description The capacity of the host's local disks, in bytes.
             * @example 536870912000
             */
            disk_bytes: number;
            /**
             * @description The machine architecture, or `null` when unknown.
             * @example x86_64
             */
            architecture: string | null;
            /**
             * @description The hypervisor or container runtime, `none` on bare metal, or `null` when unknown.
             * @example kvm
             */
            virtualization: string | null;
            /**
             * @description The system's manufacturer, or `null` when unknown.
             * @example Amazon EC2
             */
            manufacturer: string | null;
            /**
             * @description The system's model or product name, or `null` when unknown.
             * @example m6a.2xlarge
             */
            model: string | null;
            /**
             * Format: date-time
             * @description When the agent last reported its inventory (RFC 3339, UTC).
             * @example 2026-11-21T10:30:00.000Z
             */
            reported_at: string;
        };
        /**
         * HardwareEnvelope
         * @description An agent's hardware facts, in the success envelope.
         */
        HardwareEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            data: components["schemas"]["Hardware"];
            meta: components["schemas"]["Meta"];
        };
        /**
         * MetricBucket
         * @description The width of the buckets a metric series is aggregated into.
         * @example 5m
         * @enum {string}
         */
        MetricBucket: "1m" | "5m" | "15m" | "1h" | "1d";
        /**
         * MetricAggregate
         * @description How the samples in one bucket are combined.
         * @example avg
         * @enum {string}
         */
        MetricAggregate: "avg" | "min" | "max" | "sum";
        /**
         * MetricPoint
         * @description One bucket of a metric series.
         * @example {
         *       "at": "2026-11-21T10:30:00.000Z",
         *       "value": 42.5,
         *       "samples": 5
         *     }
         */
        MetricPoint: {
            /**
             * Format: date-time
             * @description The start of the bucket (RFC 3339, UTC).
             * @example 2026-11-21T10:30:00.000Z
             */
            at: string;
            /**
             * Format: double
             * @description The aggregate of the bucket's samples.
             * @example 42.5
             */
            value: number;
            /**
             * Format: int32
             * @description How many samples the bucket holds.
             * @example 5
             */
            samples: number;
        };
        /**
         * MetricSeries
         * @description One metric of one agent over a time range, aggregated into buckets. Buckets are aligned to the UTC clock
         *     (whole minutes, hours, days since 1970-01-01T00:00Z); the samples counted are those with
         *     `start_date` ≤ `at` < `end_date`; buckets without samples are left out, so `points` may have gaps.
         * @example {
         *       "agent_id": "0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d",
         *       "name": "cpu_usage",
         *       "bucket": "5m",
         *       "aggregate": "avg",
         *       "start_date": "2026-11-21T10:00:00.000Z",
         *       "end_date": "2026-11-21T11:00:00.000Z",
         *       "points": [
         *         {
         *           "at": "2026-11-21T10:30:00.000Z",
         *           "value": 42.5,
         *           "samples": 5
         *         }
         *       ]
         *     }
         */
        MetricSeries: {
            /**
             * Format: uuid
             * @description The agent.
             * @example 0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d
             */
            agent_id: string;
            name: components["schemas"]["MetricName"];
            bucket: components["schemas"]["MetricBucket"];
            aggregate: components["schemas"]["MetricAggregate"];
            /**
             * Format: date-time
             * @description The start of the range, inclusive (RFC 3339, UTC).
             * @example 2026-11-21T10:00:00.000Z
             */
            start_date: string;
            /**
             * Format: date-time
             * @description The end of the range, exclusive (RFC 3339, UTC).
             * @example 2026-11-21T11:00:00.000Z
             */
            end_date: string;
            /** @description The non-empty buckets, oldest first (at most 1,440). */
            points: components["schemas"]["MetricPoint"][];
        };
        /**
         * MetricSeriesEnvelope
         * @description A metric series, in the success envelope.
         */
        MetricSeriesEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            data: components["schemas"]["MetricSeries"];
            meta: components["schemas"]["Meta"];
        };
        /**
         * FleetPackage
         * @description One package installed on one agent, as a fleet-wide search finds it.
         * @example {
         *       "agent_id": "0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d",
         *       "hostname": "web-01.prod.example.com",
         *       "team_id": "0192f0a0-0000-7000-8000-00000000000a",
         *       "name": "openssl",
         *       "version": "3.0.13-0ubuntu3.4",
         *       "available_version": "3.0.13-0ubuntu3.5",
         *       "architecture": "amd64"
         *     }
         */
        FleetPackage: {
            /**
             * Format: uuid
             * @description The agent that has the package.
             * @example 0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d
             */
            agent_id: string;
            hostname: components["schemas"]["Hostname"];
            /**
             * Format: uuid
             * @description The agent's team.
             * @example 0192f0a0-0000-7000-8000-00000000000a
             */
            team_id: string;
            name: components["schemas"]["PackageName"];
            version: components["schemas"]["PackageVersion"];
            /**
             * @description The newer version the host's package sources offer, or `null` when it is up to date.
             * @example 3.0.13-0ubuntu3.5
             */
            available_version: string | null;
            architecture: components["schemas"]["PackageArchitecture"];
        };
        /**
         * FleetPackageListEnvelope
         * @description A page of packages found across the fleet, in the success envelope.
         */
        FleetPackageListEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            /** @description The packages of this page, one per agent that has it. */
            data: components["schemas"]["FleetPackage"][];
            meta: components["schemas"]["Meta"];
            pagination: components["schemas"]["Pagination"];
        };
        /**
         * PackageUpdate
         * @description A package version that has a newer version available, with how many of the caller's agents have it.
         * @example {
         *       "name": "openssl",
         *       "version": "3.0.13-0ubuntu3.4",
         *       "available_version": "3.0.13-0ubuntu3.5",
         *       "agents": 14
         *     }
         */
        PackageUpdate: {
            name: components["schemas"]["PackageName"];
            version: components["schemas"]["PackageVersion"];
            /**
             * @description The newer version the agents' package sources offer.
             * @example 3.0.13-0ubuntu3.5
             */
            available_version: string;
            /**
             * Format: int32
             * @description How many agents have this version installed with this update available.
             * @example 14
             */
            agents: number;
        };
        /**
         * PackageUpdateListEnvelope
         * @description A page of package updates, in the success envelope.
         */
        PackageUpdateListEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            /** @description The package versions of this page. */
            data: components["schemas"]["PackageUpdate"][];
            meta: components["schemas"]["Meta"];
            pagination: components["schemas"]["Pagination"];
        };
        /**
         * MetricQueryStep
         * @description The width of the buckets: a whole number of seconds, or an ISO 8601 duration of days, hours, minutes and seconds
         *     (`PT1M`, `PT5M`, `PT1H`, `P1D`). Buckets are aligned to the UTC clock (whole steps since 1970-01-01T00:00Z). At
         *     least `x-metrics.query_min_step_seconds` (60), at most `x-metrics.query_max_step_seconds` (86,400); otherwise 422.
         * @example PT1H
         */
        MetricQueryStep: number | string;
        /**
         * MetricQueryAggregation
         * @description How the samples of one bucket and group are combined: `avg`, `min`, `max`, `sum`, `count` (how many samples), or a
         *     percentile of their values (`p50`, `p95`, `p99`, PostgreSQL's `percentile_cont`, interpolated).
         * @example avg
         * @enum {string}
         */
        MetricQueryAggregation: "avg" | "min" | "max" | "sum" | "count" | "p50" | "p95" | "p99";
        /**
         * MetricQueryGroupBy
         * @description What one series of the answer stands for: `fleet` (all matching agents together, the default), `agent`, `group`
         *     (an agent in several agent groups counts in each; agents in none form the series whose `group` is `null`),
         *     `platform`, or `label:<key>` (the value of one label; samples without that label form the series whose `group`
         *     is `null`).
         * @example platform
         */
        MetricQueryGroupBy: string;
        /**
         * MetricQueryFilter
         * @description Which agents' samples count, always within the caller's teams: the same filters as `listAgents` (all given must
         *     hold), and `agent_ids` (at most 1,000; ids that are not the caller's agents match nothing) and `labels` (samples
         *     whose labels include all of these).
         * @example {
         *       "platform": "linux",
         *       "labels": {
         *         "mount": "/var"
         *       }
         *     }
         */
        MetricQueryFilter: {
            /**
             * @description Only these agents.
             * @example [
             *       "0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d"
             *     ]
             */
            agent_ids?: string[];
            /**
             * Format: uuid
             * @description Only agents of this team (one of the caller's).
             * @example 0192f0a0-0000-7000-8000-00000000000a
             */
            team_id?: string;
            /**
             * Format: uuid
             * @description Only members of this agent group.
             * @example 0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60
             */
            group_id?: string;
            status?: components["schemas"]["AgentStatus"];
            platform?: components["schemas"]["Platform"];
            /**
             * @description Only agents whose hostname contains this text (any case), or whose address starts with it.
             * @example web-
             */
            search?: string;
            labels?: components["schemas"]["MetricLabels"];
        };
        /**
         * MetricQuery
         * @description A fleet-wide metric query: one or more metrics of the caller's teams' agents between `from` (inclusive) and `to`
         *     (exclusive), aggregated per `step` bucket and per group. Bounded by the spec's `x-metrics` policy: the range may
         *     span at most `query_max_range_days` (31) days and the answer may hold at most `query_max_points` (10,000) points
         *     (buckets × series, counted over all metrics); beyond either the query is refused with 422 `VAL_QUERY_TOO_LARGE`.
         * @example {
         *       "metrics": [
         *         "cpu_usage"
         *       ],
         *       "from": "2026-11-14T00:00:00Z",
         *       "to": "2026-11-21T00:00:00Z",
         *       "step": "PT1H",
         *       "aggregation": "avg",
         *       "group_by": "platform"
         *     }
         */
        MetricQuery: {
            /**
             * @description The metrics (1 to 10, no repeats); each is a series of its own in the answer.
             * @example [
             *       "cpu_usage"
             *     ]
             */
            metrics: components["schemas"]["MetricName"][];
            /**
             * Format: date-time
             * @description The start of the range, inclusive (RFC 3339).
             * @example 2026-11-14T00:00:00Z
             */
            from: string;
            /**
             * Format: date-time
             * @description The end of the range, exclusive (RFC 3339); after `from`.
             * @example 2026-11-21T00:00:00Z
             */
            to: string;
            step: components["schemas"]["MetricQueryStep"];
            aggregation: components["schemas"]["MetricQueryAggregation"];
            group_by?: components["schemas"]["MetricQueryGroupBy"];
            filter?: components["schemas"]["MetricQueryFilter"];
        };
        /**
         * MetricQuerySeries
         * @description One metric of one group over the range, as buckets; buckets without samples are left out.
         * @example {
         *       "metric": "cpu_usage",
         *       "group": "linux",
         *       "group_name": "linux",
         *       "points": [
         *         {
         *           "at": "2026-11-20T10:00:00.000Z",
         *           "value": 42.5,
         *           "samples": 60000
         *         }
         *       ]
         *     }
         */
        MetricQuerySeries: {
            metric: components["schemas"]["MetricName"];
            /**
             * @description What the series stands for, by `group_by`: `null` for `fleet`; the agent's id; the agent group's id (`null`:
             *     agents in no group); the platform; the label's value (`null`: samples without the label).
             * @example linux
             */
            group: string | null;
            /**
             * @description The group for people to read: the agent's hostname, the agent group's name, else as `group`.
             * @example linux
             */
            group_name: string | null;
            /** @description The non-empty buckets, oldest first. */
            points: components["schemas"]["MetricPoint"][];
        };
        /**
         * MetricQueryResult
         * @description The answer to a metric query: the range and step as understood, and one series per metric and group that has
         *     samples, by metric then group (`null` last).
         * @example {
         *       "from": "2026-11-14T00:00:00.000Z",
         *       "to": "2026-11-21T00:00:00.000Z",
         *       "step_seconds": 3600,
         *       "aggregation": "avg",
         *       "group_by": "platform",
         *       "series": [
         *         {
         *           "metric": "cpu_usage",
         *           "group": "linux",
         *           "group_name": "linux",
         *           "points": [
         *             {
         *               "at": "2026-11-20T10:00:00.000Z",
         *               "value": 42.5,
         *               "samples": 60000
         *             }
         *           ]
         *         }
         *       ]
         *     }
         */
        MetricQueryResult: {
            /**
             * Format: date-time
             * @description The start of the range, inclusive (RFC 3339, UTC).
             * @example 2026-11-14T00:00:00.000Z
             */
            from: string;
            /**
             * Format: date-time
             * @description The end of the range, exclusive (RFC 3339, UTC).
             * @example 2026-11-21T00:00:00.000Z
             */
            to: string;
            /**
             * Format: int32
             * @description The width of the buckets, in seconds.
             * @example 3600
             */
            step_seconds: number;
            aggregation: components["schemas"]["MetricQueryAggregation"];
            group_by: components["schemas"]["MetricQueryGroupBy"];
            /** @description The series; at most `x-metrics.query_max_points` points in all. */
            series: components["schemas"]["MetricQuerySeries"][];
        };
        /**
         * MetricQueryResultEnvelope
         * @description The answer to a metric query, in the success envelope.
         */
        MetricQueryResultEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            data: components["schemas"]["MetricQueryResult"];
            meta: components["schemas"]["Meta"];
        };
        /**
         * DashboardName
         * @description The dashboard's name, unique in its team regardless of case.
         * @example Fleet overview
         */
        DashboardName: string;
        /**
         * DashboardDescription
         * @description What the dashboard is for; `null` when not described.
         * @example CPU and memory of the whole fleet over the last week.
         */
        DashboardDescription: string | null;
        /**
         * DashboardPanelPosition
         * @description Where a panel sits on the dashboard's grid of 24 columns (`x` + `w` at most 24) and at most 100 rows (`y` + `h` at most 100).
         * @example {
         *       "x": 0,
         *       "y": 0,
         *       "w": 12,
         *       "h": 8
         *     }
         */
        DashboardPanelPosition: {
            /**
             * Format: int32
             * @description The first column (0–23).
             * @example 0
             */
            x: number;
            /**
             * Format: int32
             * @description The first row (0–99).
             * @example 0
             */
            y: number;
            /**
             * Format: int32
             * @description The width, in columns (1–24).
             * @example 12
             */
            w: number;
            /**
             * Format: int32
             * @description The height, in rows (1–100).
             * @example 8
             */
            h: number;
        };
        /**
         * DashboardPanel
         * @description One panel of a dashboard, a titled metric query at a place on the grid.
         * @example {
         *       "title": "CPU by platform",
         *       "position": {
         *         "x": 0,
         *         "y": 0,
         *         "w": 12,
         *         "h": 8
         *       },
         *       "query": {
         *         "metrics": [
         *           "cpu_usage"
         *         ],
         *         "from": "2026-11-14T00:00:00Z",
         *         "to": "2026-11-21T00:00:00Z",
         *         "step": "PT1H",
         *         "aggregation": "avg",
         *         "group_by": "platform"
         *       }
         *     }
         */
        DashboardPanel: {
            /**
             * @description The panel's title.
             * @example CPU by platform
             */
            title: string;
            position: components["schemas"]["DashboardPanelPosition"];
            query: components["schemas"]["MetricQuery"];
        };
        /**
         * DashboardPanels
         * @description The panels, at most 24, in the order they are listed (the grid positions place them).
         * @example [
         *       {
         *         "title": "CPU by platform",
         *         "position": {
         *           "x": 0,
         *           "y": 0,
         *           "w": 12,
         *           "h": 8
         *         },
         *         "query": {
         *           "metrics": [
         *             "cpu_usage"
         *           ],
         *           "from": "2026-11-14T00:00:00Z",
         *           "to": "2026-11-21T00:00:00Z",
         *           "step": "PT1H",
         *           "aggregation": "avg",
         *           "group_by": "platform"
         *         }
         *       }
         *     ]
         */
        DashboardPanels: components["schemas"]["DashboardPanel"][];
        /**
         * Dashboard
         * @description A saved, named layout of metric queries, owned by a team.
         * @example {
         *       "id": "0192f3c0-1a2b-7c3d-8e4f-5a6b7c8d9e0f",
         *       "team_id": "0192f0a0-0000-7000-8000-00000000000a",
         *       "name": "Fleet overview",
         *       "description": "CPU and memory of the whole fleet over the last week.",
         *       "panels": [
         *         {
         *           "title": "CPU by platform",
         *           "position": {
         *             "x": 0,
         *             "y": 0,
         *             "w": 12,
         *             "h": 8
         *           },
         *           "query": {
         *             "metrics": [
         *               "cpu_usage"
         *             ],
         *             "from": "2026-11-14T00:00:00Z",
         *             "to": "2026-11-21T00:00:00Z",
         *             "step": "PT1H",
         *             "aggregation": "avg",
         *             "group_by": "platform"
         *           }
         *         }
         *       ],
         *       "version": 3,
         *       "created_at": "2026-11-10T09:00:00.000Z",
         *       "updated_at": "2026-11-20T14:45:00.000Z"
         *     }
         */
        Dashboard: {
            /**
             * Format: uuid
             * @description The dashboard's id (UUIDv7).
             * @example 0192f3c0-1a2b-7c3d-8e4f-5a6b7c8d9e0f
             */
            readonly id: string;
            /**
             * Format: uuid
             * @description The team that owns the dashboard.
             * @example 0192f0a0-0000-7000-8000-00000000000a
             */
            readonly team_id: string;
            name: components["schemas"]["DashboardName"];
            description: components["schemas"]["DashboardDescription"];
            panels: components["schemas"]["DashboardPanels"];
            /**
             * Format: int32
             * @description 1 when created, one more on every change.
             * @example 3
             */
            readonly version: number;
            /**
             * Format: date-time
             * @description When the dashboard was created (RFC 3339, UTC).
             * @example 2026-11-10T09:00:00.000Z
             */
            readonly created_at: string;
            /**
             * Format: date-time
             * @description When the dashboard last changed (RFC 3339, UTC).
             * @example 2026-11-20T14:45:00.000Z
             */
            readonly updated_at: string;
        };
        /**
         * DashboardListEnvelope
         * @description A page of dashboards, in the success envelope.
         */
        DashboardListEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            /** @description The dashboards of this page. */
            data: components["schemas"]["Dashboard"][];
            meta: components["schemas"]["Meta"];
            pagination: components["schemas"]["Pagination"];
        };
        /**
         * DashboardCreate
         * @description A new dashboard. `team_id` may be left out when the caller belongs to exactly one team.
         * @example {
         *       "name": "Fleet overview",
         *       "description": "CPU and memory of the whole fleet over the last week.",
         *       "panels": [
         *         {
         *           "title": "CPU by platform",
         *           "position": {
         *             "x": 0,
         *             "y": 0,
         *             "w": 12,
         *             "h": 8
         *           },
         *           "query": {
         *             "metrics": [
         *               "cpu_usage"
         *             ],
         *             "from": "2026-11-14T00:00:00Z",
         *             "to": "2026-11-21T00:00:00Z",
         *             "step": "PT1H",
         *             "aggregation": "avg",
         *             "group_by": "platform"
         *           }
         *         }
         *       ]
         *     }
         */
        DashboardCreate: {
            /**
             * Format: uuid
             * @description The team that will own the dashboard (one of the caller's).
             * @example 0192f0a0-0000-7000-8000-00000000000a
             */
            team_id?: string;
            name: components["schemas"]["DashboardName"];
            description?: components["schemas"]["DashboardDescription"];
            panels?: components["schemas"]["DashboardPanels"];
        };
        /**
         * DashboardEnvelope
         * @description A dashboard, in the success envelope.
         */
        DashboardEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            data: components["schemas"]["Dashboard"];
            meta: components["schemas"]["Meta"];
        };
        /**
         * DashboardPatch
         * @description A JSON merge patch of a dashboard; `panels`, when present, replaces all of them. A dashboard never changes team.
         * @example {
         *       "description": "CPU, memory and disk of the whole fleet over the last week."
         *     }
         */
        DashboardPatch: {
            name?: components["schemas"]["DashboardName"];
            description?: components["schemas"]["DashboardDescription"];
            panels?: components["schemas"]["DashboardPanels"];
        };
        /**
         * DashboardPanelData
         * @description One panel of a dashboard with the answer to its query, as `queryMetrics` would give it now.
         * @example {
         *       "title": "CPU by platform",
         *       "position": {
         *         "x": 0,
         *         "y": 0,
         *         "w": 12,
         *         "h": 8
         *       },
         *       "result": {
         *         "from": "2026-11-14T00:00:00.000Z",
         *         "to": "2026-11-21T00:00:00.000Z",
         *         "step_seconds": 3600,
         *         "aggregation": "avg",
         *         "group_by": "platform",
         *         "series": [
         *           {
         *             "metric": "cpu_usage",
         *             "group": "linux",
         *             "group_name": "linux",
         *             "points": [
         *               {
         *                 "at": "2026-11-20T10:00:00.000Z",
         *                 "value": 42.5,
         *                 "samples": 54000
         *               }
         *             ]
         *           }
         *         ]
         *       }
         *     }
         */
        DashboardPanelData: {
            /**
             * @description The panel's title.
             * @example CPU by platform
             */
            title: string;
            position: components["schemas"]["DashboardPanelPosition"];
            result: components["schemas"]["MetricQueryResult"];
        };
        /**
         * DashboardData
         * @description Every panel of a dashboard with the answer to its query, in the dashboard's order.
         * @example {
         *       "dashboard_id": "0192f3c0-1a2b-7c3d-8e4f-5a6b7c8d9e0f",
         *       "version": 3,
         *       "panels": [
         *         {
         *           "title": "CPU by platform",
         *           "position": {
         *             "x": 0,
         *             "y": 0,
         *             "w": 12,
         *             "h": 8
         *           },
         *           "result": {
         *             "from": "2026-11-14T00:00:00.000Z",
         *             "to": "2026-11-21T00:00:00.000Z",
         *             "step_seconds": 3600,
         *             "aggregation": "avg",
         *             "group_by": "platform",
         *             "series": [
         *               {
         *                 "metric": "cpu_usage",
         *                 "group": "linux",
         *                 "group_name": "linux",
         *                 "points": [
         *                   {
         *                     "at": "2026-11-20T10:00:00.000Z",
         *                     "value": 42.5,
         *                     "samples": 54000
         *                   }
         *                 ]
         *               }
         *             ]
         *           }
         *         }
         *       ]
         *     }
         */
        DashboardData: {
            /**
             * Format: uuid
             * @description The dashboard.
             * @example 0192f3c0-1a2b-7c3d-8e4f-5a6b7c8d9e0f
             */
            dashboard_id: string;
            /**
             * Format: int32
             * @description The version of the dashboard whose panels were answered.
             * @example 3
             */
            version: number;
            /** @description The panels, each with its answer. */
            panels: components["schemas"]["DashboardPanelData"][];
        };
        /**
         * DashboardDataEnvelope
         * @description A dashboard's panels with their answers, in the success envelope.
         */
        DashboardDataEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            data: components["schemas"]["DashboardData"];
            meta: components["schemas"]["Meta"];
        };
        /**
         * VulnerabilitySeverity
         * @description How severe an advisory is: its `database_specific.severity` when it has one (`LOW`, `MODERATE`/`MEDIUM`,
         *     `HIGH`, `CRITICAL`), else the band of the highest CVSS base score among its `severity` vectors (CVSS v2, v3.0,
         *     v3.1, v4.0: 0.1–3.9 `low`, 4.0–6.9 `medium`, 7.0–8.9 `high`, 9.0–10.0 `critical`), else `unknown`.
         * @example high
         * @enum {string}
         */
        VulnerabilitySeverity: "unknown" | "low" | "medium" | "high" | "critical";
        /**
         * OsvVersion
         * @description A version of a package in its ecosystem's own syntax, as in an OSV document.
         * @example 3.0.11-1~deb12u1
         */
        OsvVersion: string;
        /**
         * PackageVulnerability
         * @description One installed package of one agent that an advisory affects.
         * @example {
         *       "agent_id": "0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d",
         *       "hostname": "web-01.prod.example.com",
         *       "team_id": "0192f0a0-0000-7000-8000-00000000000a",
         *       "ecosystem": "Debian:12",
         *       "name": "openssl",
         *       "version": "3.0.9-1",
         *       "architecture": "amd64",
         *       "advisory_id": "DSA-5532-1",
         *       "aliases": [
         *         "CVE-2023-5678"
         *       ],
         *       "summary": "openssl - security update",
         *       "severity": "medium",
         *       "fixed_versions": [
         *         "3.0.11-1~deb12u1"
         *       ],
         *       "published_at": "2026-09-30T08:00:00.000Z",
         *       "modified_at": "2026-10-01T12:00:00.000Z"
         *     }
         */
        PackageVulnerability: {
            /**
             * Format: uuid
             * @description The agent that has the package.
             * @example 0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d
             */
            agent_id: string;
            hostname: components["schemas"]["Hostname"];
            /**
             * Format: uuid
             * @description The agent's team.
             * @example 0192f0a0-0000-7000-8000-00000000000a
             */
            team_id: string;
            ecosystem: components["schemas"]["PackageEcosystem"];
            name: components["schemas"]["PackageName"];
            version: components["schemas"]["PackageVersion"];
            architecture: components["schemas"]["PackageArchitecture"];
            /**
             * @description The advisory's id.
             * @example DSA-5532-1
             */
            advisory_id: string;
            /** @description The advisory's other ids. */
            aliases: string[];
            /**
             * @description The advisory's summary, or `null`.
             * @example openssl - security update
             */
            summary: string | null;
            severity: components["schemas"]["VulnerabilitySeverity"];
            /**
             * @description The versions that fix the problem for this package: in each range that affects it, the first `fixed`
             *     version above the installed one. Empty when no fix is known.
             */
            fixed_versions: components["schemas"]["OsvVersion"][];
            /**
             * Format: date-time
             * @description When the advisory was published, or `null`.
             * @example 2026-09-30T08:00:00.000Z
             */
            published_at: string | null;
            /**
             * Format: date-time
             * @description When the advisory last changed.
             * @example 2026-10-01T12:00:00.000Z
             */
            modified_at: string;
        };
        /**
         * PackageVulnerabilityListEnvelope
         * @description A page of vulnerable packages, in the success envelope.
         */
        PackageVulnerabilityListEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            /** @description The vulnerable packages of this page. */
            data: components["schemas"]["PackageVulnerability"][];
            meta: components["schemas"]["Meta"];
            pagination: components["schemas"]["Pagination"];
        };
        /**
         * OsvSeverity
         * @description A severity score of an OSV advisory; CVSS vectors (v2, v3.0, v3.1, v4.0) are scored by Opsdeck.
         * @example {
         *       "type": "CVSS_V3",
         *       "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
         *     }
         */
        OsvSeverity: {
            /**
             * @description The scoring system.
             * @example CVSS_V3
             */
            type: string;
            /**
             * @description The vector (`CVSS:3.1/AV:N/…`) or score in that system.
             * @example CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H
             */
            score: string;
        };
        /**
         * OsvEvent
         * @description One event of an OSV range: exactly one of `introduced` (the first affected version; `0` means every version
         *     before the next event), `fixed` (the first version no longer affected), `last_affected` (the last affected
         *     version) or `limit`.
         * @example {
         *       "introduced": "0"
         *     }
         * @example {
         *       "fixed": "3.0.11-1~deb12u1"
         *     }
         */
        OsvEvent: {
            introduced?: components["schemas"]["OsvVersion"];
            fixed?: components["schemas"]["OsvVersion"];
            last_affected?: components["schemas"]["OsvVersion"];
            limit?: components["schemas"]["OsvVersion"];
        };
        /**
         * OsvRange
         * @description A range of affected versions as a list of events. `SEMVER` ranges compare versions as Semantic Versioning 2.0
         *     does; `ECOSYSTEM` ranges compare them as the package's ecosystem does (npm: SemVer; PyPI: PEP 440; Debian and
         *     Ubuntu: dpkg's order); `GIT` ranges name commits and are stored but never matched against versions.
         * @example {
         *       "type": "ECOSYSTEM",
         *       "events": [
         *         {
         *           "introduced": "0"
         *         },
         *         {
         *           "fixed": "3.0.11-1~deb12u1"
         *         }
         *       ]
         *     }
         */
        OsvRange: {
            /**
             * @description How the events' versions compare.
             * @example ECOSYSTEM
             * @enum {string}
             */
            type: "SEMVER" | "ECOSYSTEM" | "GIT";
            /**
             * @description The repository of a `GIT` range.
             * @example https://github.com/openssl/openssl
             */
            repo?: string;
            /** @description The events, each introducing or ending an affected stretch; at least one `introduced`. */
            events: components["schemas"]["OsvEvent"][];
        };
        /**
         * OsvAffected
         * @description One affected package of an advisory: its ecosystem and name, and the versions affected, as `ranges`, as an
         *     explicit list of `versions`, or both (a version is affected when either says so).
         * @example {
         *       "package": {
         *         "ecosystem": "Debian:12",
         *         "name": "openssl"
         *       },
         *       "ranges": [
         *         {
         *           "type": "ECOSYSTEM",
         *           "events": [
         *             {
         *               "introduced": "0"
         *             },
         *             {
         *               "fixed": "3.0.11-1~deb12u1"
         *             }
         *           ]
         *         }
         *       ]
         *     }
         */
        OsvAffected: {
            /** @description The affected package. */
            package: {
                ecosystem: components["schemas"]["PackageEcosystem"];
                name: components["schemas"]["PackageName"];
                /**
                 * @description The package's URL (purl), kept as given.
                 * @example pkg:deb/debian/openssl?arch=source
                 */
                purl?: string;
            };
            /** @description Ranges of affected versions. */
            ranges?: components["schemas"]["OsvRange"][];
            /** @description Affected versions, listed one by one. */
            versions?: components["schemas"]["OsvVersion"][];
        };
        /**
         * OsvAdvisory
         * @description A security advisory in the OSV format (https://ossf.github.io/osv-schema/). Opsdeck reads `id`, `aliases`,
         *     `summary`, `details`, `severity`, `database_specific.severity`, `affected`, `modified`, `published` and
         *     `withdrawn`; any other field of the format (`references`, `credits`, `schema_version`, …) is accepted and
         *     kept with the document.
         * @example {
         *       "id": "DSA-5532-1",
         *       "aliases": [
         *         "CVE-2023-5678"
         *       ],
         *       "summary": "openssl - security update",
         *       "modified": "2026-10-01T12:00:00Z",
         *       "published": "2026-09-30T08:00:00Z",
         *       "severity": [
         *         {
         *           "type": "CVSS_V3",
         *           "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L"
         *         }
         *       ],
         *       "affected": [
         *         {
         *           "package": {
         *             "ecosystem": "Debian:12",
         *             "name": "openssl"
         *           },
         *           "ranges": [
         *             {
         *               "type": "ECOSYSTEM",
         *               "events": [
         *                 {
         *                   "introduced": "0"
         *                 },
         *                 {
         *                   "fixed": "3.0.11-1~deb12u1"
         *                 }
         *               ]
         *             }
         *           ]
         *         }
         *       ]
         *     }
         */
        OsvAdvisory: {
            /**
             * @description The advisory's id in its database (`GHSA-…`, `PYSEC-…`, `DSA-…`, `CVE-…`); the key of the import.
             * @example DSA-5532-1
             */
            id: string;
            /**
             * Format: date-time
             * @description When the advisory last changed; an import replaces a stored advisory only with a later one.
             * @example 2026-10-01T12:00:00Z
             */
            modified: string;
            /**
             * Format: date-time
             * @description When the advisory was first published.
             * @example 2026-09-30T08:00:00Z
             */
            published?: string;
            /**
             * Format: date-time
             * @description When the advisory was withdrawn; a withdrawn advisory matches no package.
             * @example 2026-10-02T08:00:00Z
             */
            withdrawn?: string;
            /** @description Other ids of the same problem (`CVE-2023-5678`). */
            aliases?: string[];
            /**
             * @description One line about the problem.
             * @example openssl - security update
             */
            summary?: string;
            /**
             * @description The problem in more words (CommonMark).
             * @example Excessive time spent in DH key generation and checks.
             */
            details?: string;
            /** @description Severity scores (CVSS vectors). */
            severity?: components["schemas"]["OsvSeverity"][];
            /** @description The affected packages. */
            affected?: components["schemas"]["OsvAffected"][];
            /**
             * @description Fields of the advisory's database; Opsdeck reads `severity` (`LOW`, `MODERATE`, `MEDIUM`, `HIGH`, `CRITICAL`).
             * @example {
             *       "severity": "HIGH"
             *     }
             */
            database_specific?: {
                [key: string]: unknown;
            };
        };
        /**
         * AdvisoryImport
         * @description Up to 500 OSV advisories to import at once. The body must also fit the server's body limit (1 MiB by
         *     default), else 413. An advisory id may appear once per request.
         * @example {
         *       "advisories": [
         *         {
         *           "id": "DSA-5532-1",
         *           "aliases": [
         *             "CVE-2023-5678"
         *           ],
         *           "summary": "openssl - security update",
         *           "modified": "2026-10-01T12:00:00Z",
         *           "published": "2026-09-30T08:00:00Z",
         *           "database_specific": {
         *             "severity": "MEDIUM"
         *           },
         *           "affected": [
         *             {
         *               "package": {
         *                 "ecosystem": "Debian:12",
         *                 "name": "openssl"
         *               },
         *               "ranges": [
         *                 {
         *                   "type": "ECOSYSTEM",
         *                   "events": [
         *                     {
         *                       "introduced": "0"
         *                     },
         *                     {
         *                       "fixed": "3.0.11-1~deb12u1"
         *                     }
         *                   ]
         *                 }
         *               ]
         *             }
         *           ]
         *         }
         *       ]
         *     }
         */
        AdvisoryImport: {
            /** @description The advisories, in OSV format. */
            advisories: components["schemas"]["OsvAdvisory"][];
        };
        /**
         * AdvisoryImportItem
         * @description What an import did with one advisory, at its position in the request.
         * @example {
         *       "id": "DSA-5532-1",
         *       "status": "created",
         *       "severity": "medium",
         *       "matches": 14
         *     }
         */
        AdvisoryImportItem: {
            /**
             * @description The advisory's id.
             * @example DSA-5532-1
             */
            id: string;
            /**
             * @description `created` (a new advisory), `updated` (it replaced a stored one with an earlier `modified`) or `unchanged`
             *     (a stored one was as recent or more recent: nothing changed, so importing the same documents again is safe).
             * @example created
             * @enum {string}
             */
            status: "created" | "updated" | "unchanged";
            severity: components["schemas"]["VulnerabilitySeverity"];
            /**
             * Format: int32
             * @description How many installed packages of the whole fleet (every team) the advisory, as now stored, affects.
             * @example 14
             */
            matches: number;
        };
        /**
         * AdvisoryImportResult
         * @description The outcome of an import, advisory by advisory, in the order of the request.
         * @example {
         *       "created": 1,
         *       "updated": 0,
         *       "unchanged": 0,
         *       "results": [
         *         {
         *           "id": "DSA-5532-1",
         *           "status": "created",
         *           "severity": "medium",
         *           "matches": 14
         *         }
         *       ]
         *     }
         */
        AdvisoryImportResult: {
            /**
             * Format: int32
             * @description How many advisories were new.
             * @example 1
             */
            created: number;
            /**
             * Format: int32
             * @description How many replaced a stored advisory.
             * @example 0
             */
            updated: number;
            /**
             * Format: int32
             * @description How many were stored already, as recent or more recent.
             * @example 0
             */
            unchanged: number;
            /** @description One result per advisory of the request, in its order. */
            results: components["schemas"]["AdvisoryImportItem"][];
        };
        /**
         * AdvisoryImportResultEnvelope
         * @description The outcome of an advisory import, in the success envelope.
         */
        AdvisoryImportResultEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            data: components["schemas"]["AdvisoryImportResult"];
            meta: components["schemas"]["Meta"];
        };
        /**
         * DeploymentEnvironment
         * @description Where a deployment goes.
         * @example production
         * @enum {string}
         */
        DeploymentEnvironment: "development" | "staging" | "production";
        /**
         * DeploymentStatus
         * @description `pending` (asked for, not started) → `running` → `succeeded` or `failed`; no other change is allowed
         *     (`409 BIZ_DEPLOYMENT_INVALID_TRANSITION`). A succeeded or failed deployment becomes `rolled_back` when a
         *     rollback of it (`rollbackDeployment`) succeeds; `rolled_back` is final.
         * @example succeeded
         * @enum {string}
         */
        DeploymentStatus: "pending" | "running" | "succeeded" | "failed" | "rolled_back";
        /**
         * ServiceName
         * @description The name of the service deployed; letters, digits, `.`, `_` and `-`, starting with a letter or digit.
         * @example api-gateway
         */
        ServiceName: string;
        /**
         * ReleaseVersion
         * @description A version of a service (a tag, a semantic version, a build number or a commit); letters, digits, `.`, `_`, `+` and `-`.
         * @example v1.2.3
         */
        ReleaseVersion: string;
        /**
         * DeploymentFields
         * @description The fields of a deployment, of which only `id` is always present: a list asked for with `fields=…`
         *     carries just the fields named. Without `fields`, every field is present, as in `Deployment`.
         * @example {
         *       "id": "0192f2b0-5c6d-7e8f-9a0b-1c2d3e4f5a6b",
         *       "service": "api-gateway",
         *       "status": "succeeded"
         *     }
         */
        DeploymentFields: {
            /**
             * Format: uuid
             * @description The deployment's id (UUIDv7).
             * @example 0192f2b0-5c6d-7e8f-9a0b-1c2d3e4f5a6b
             */
            id: string;
            /**
             * Format: uuid
             * @description The team that owns the deployment.
             * @example 0192f0a0-0000-7000-8000-00000000000a
             */
            team_id?: string;
            service?: components["schemas"]["ServiceName"];
            version?: components["schemas"]["ReleaseVersion"];
            environment?: components["schemas"]["DeploymentEnvironment"];
            status?: components["schemas"]["DeploymentStatus"];
            /**
             * @description The version this deployment replaces: the version of the service's last succeeded deployment in the same
             *     environment when this one was created (for a rollback, the version rolled back from), or `null` for the
             *     first. A deployment can only be rolled back to it.
             * @example v1.2.2
             */
            previous_version?: string | null;
            /**
             * Format: uuid
             * @description The deployment this one rolls back (it becomes `rolled_back` when this one succeeds), or `null`.
             * @example null
             */
            rollback_of?: string | null;
            /**
             * @description For a rollback, why it was asked for (the `reason` given to `rollbackDeployment`), or `null`: none given, or no rollback.
             * @example null
             */
            reason?: string | null;
            /**
             * @description For a rollback, who asked for it: the `requested_by` given to `rollbackDeployment` (say, the person a CD
             *     system acts for), else the email of the caller that asked; `null` for a deployment that is no rollback. It is
             *     what the caller says; `created_by` is the user who authenticated.
             * @example null
             */
            requested_by?: string | null;
            /**
             * Format: date-time
             * @description When it turned `running`, or `null` before (RFC 3339, UTC).
             * @example 2026-11-21T10:30:05.000Z
             */
            started_at?: string | null;
            /**
             * Format: date-time
             * @description When it turned `succeeded` or `failed`, or `null` before (RFC 3339, UTC).
             * @example 2026-11-21T10:32:05.000Z
             */
            finished_at?: string | null;
            /**
             * Format: int32
             * @description Whole seconds from `started_at` to `finished_at`, or `null` until it finished.
             * @example 120
             */
            duration_seconds?: number | null;
            /**
             * Format: uuid
             * @description The user who asked for the deployment, or `null` (an API key of a deleted user).
             * @example 0192f0d2-1a2b-7c3d-8e4f-5a6b7c8d9e0f
             */
            created_by?: string | null;
            /**
             * Format: date-time
             * @description When it was asked for (RFC 3339, UTC).
             * @example 2026-11-21T10:30:00.000Z
             */
            created_at?: string;
            /**
             * Format: date-time
             * @description When it last changed (RFC 3339, UTC).
             * @example 2026-11-21T10:32:05.000Z
             */
            updated_at?: string;
        };
        /**
         * DeploymentListEnvelope
         * @description A page of deployments, in the success envelope.
         */
        DeploymentListEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            /** @description The deployments of this page, each trimmed to `fields` when that was asked for. */
            data: components["schemas"]["DeploymentFields"][];
            meta: components["schemas"]["Meta"];
            pagination: components["schemas"]["Pagination"];
        };
        /**
         * DeploymentCreate
         * @description A new deployment; it starts `pending`. Its `previous_version` is found, not sent: the version of the
         *     service's last succeeded deployment in the same environment.
         * @example {
         *       "service": "api-gateway",
         *       "version": "v1.2.3",
         *       "environment": "production"
         *     }
         */
        DeploymentCreate: {
            /**
             * Format: uuid
             * @description The team that will own the deployment; may be left out when the caller belongs to exactly one team.
             * @example 0192f0a0-0000-7000-8000-00000000000a
             */
            team_id?: string;
            service: components["schemas"]["ServiceName"];
            version: components["schemas"]["ReleaseVersion"];
            environment: components["schemas"]["DeploymentEnvironment"];
        };
        /**
         * Deployment
         * @description One version of one service rolled out to one environment, with its state and timings.
         * @example {
         *       "id": "0192f2b0-5c6d-7e8f-9a0b-1c2d3e4f5a6b",
         *       "team_id": "0192f0a0-0000-7000-8000-00000000000a",
         *       "service": "api-gateway",
         *       "version": "v1.2.3",
         *       "environment": "production",
         *       "status": "succeeded",
         *       "previous_version": "v1.2.2",
         *       "rollback_of": null,
         *       "reason": null,
         *       "requested_by": null,
         *       "started_at": "2026-11-21T10:30:05.000Z",
         *       "finished_at": "2026-11-21T10:32:05.000Z",
         *       "duration_seconds": 120,
         *       "created_by": "0192f0d2-1a2b-7c3d-8e4f-5a6b7c8d9e0f",
         *       "created_at": "2026-11-21T10:30:00.000Z",
         *       "updated_at": "2026-11-21T10:32:05.000Z"
         *     }
         */
        Deployment: WithRequired<components["schemas"]["DeploymentFields"], "team_id" | "service" | "version" | "environment" | "status" | "previous_version" | "rollback_of" | "reason" | "requested_by" | "started_at" | "finished_at" | "duration_seconds" | "created_by" | "created_at" | "updated_at">;
        /**
         * DeploymentEnvelope
         * @description A deployment, in the success envelope.
         */
        DeploymentEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            data: components["schemas"]["Deployment"];
            meta: components["schemas"]["Meta"];
        };
        /**
         * DeploymentPatch
         * @description A JSON merge patch (RFC 7396) of a deployment's progress. Only `status` changes, and only along
         *     `pending` → `running` → `succeeded` or `failed`; the timings follow (`started_at` on `running`,
         *     `finished_at` and `duration_seconds` on `succeeded` or `failed`). The current status again changes
         *     nothing; any other change is `409 BIZ_DEPLOYMENT_INVALID_TRANSITION`. An empty patch changes nothing.
         * @example {
         *       "status": "running"
         *     }
         */
        DeploymentPatch: {
            /**
             * @description The status the deployment moves to.
             * @example running
             * @enum {string}
             */
            status?: "running" | "succeeded" | "failed";
        };
        /**
         * RollbackRequest
         * @description Why a rollback is asked for and on whose behalf, both optional (an empty body, or none, is a rollback without
         *     them). They are kept on the rollback deployment and carried by `deployment.rollback_requested`.
         * @example {
         *       "reason": "Error rate above 5% since v1.2.3 went out",
         *       "requested_by": "deploy-bot (on behalf of ada@example.com)"
         *     }
         */
        RollbackRequest: {
            /**
             * @description Why the deployment is rolled back, for people and for the CD systems that wait for the event.
             * @example Error rate above 5% since v1.2.3 went out
             */
            reason?: string;
            /**
             * @description Who asks for the rollback, as the caller names them (a person a CD system acts for, a pipeline); by default
             *     the email of the caller. Free text: the user who authenticated is recorded as `created_by` and in the audit
             *     log either way.
             * @example deploy-bot (on behalf of ada@example.com)
             */
            requested_by?: string;
        };
        /**
         * RollbackAccepted
         * @description The answer to a rollback: a new deployment of the previous version, linked to the one rolled back
         *     (`rollback_of`), and where to watch it. The deployment rolled back becomes `rolled_back` when it succeeds.
         * @example {
         *       "rollback_id": "0192f2c4-1a2b-7c3d-8e4f-5a6b7c8d9e0f",
         *       "deployment_id": "0192f2b0-5c6d-7e8f-9a0b-1c2d3e4f5a6b",
         *       "status": "pending",
         *       "status_url": "/api/v1/deployments/0192f2c4-1a2b-7c3d-8e4f-5a6b7c8d9e0f",
         *       "reason": "Error rate above 5% since v1.2.3 went out",
         *       "requested_by": "ada@example.com"
         *     }
         */
        RollbackAccepted: {
            /**
             * Format: uuid
             * @description The id of the new deployment that carries out the rollback.
             * @example 0192f2c4-1a2b-7c3d-8e4f-5a6b7c8d9e0f
             */
            rollback_id: string;
            /**
             * Format: uuid
             * @description The deployment being rolled back.
             * @example 0192f2b0-5c6d-7e8f-9a0b-1c2d3e4f5a6b
             */
            deployment_id: string;
            status: components["schemas"]["DeploymentStatus"];
            /**
             * @description Where the rollback deployment can be read (also in `Location`).
             * @example /api/v1/deployments/0192f2c4-1a2b-7c3d-8e4f-5a6b7c8d9e0f
             */
            status_url: string;
            /**
             * @description Why the rollback was asked for, as given, or `null`.
             * @example Error rate above 5% since v1.2.3 went out
             */
            reason: string | null;
            /**
             * @description Who asked for it, as given, else the email of the caller.
             * @example ada@example.com
             */
            requested_by: string;
        };
        /**
         * RollbackAcceptedEnvelope
         * @description An accepted rollback, in the success envelope.
         */
        RollbackAcceptedEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            data: components["schemas"]["RollbackAccepted"];
            meta: components["schemas"]["Meta"];
        };
        /**
         * PipelineStatus
         * @description `active` pipelines take new runs; `paused` and `disabled` ones refuse them (`409 BIZ_PIPELINE_NOT_ACTIVE`).
         * @example active
         * @enum {string}
         */
        PipelineStatus: "active" | "paused" | "disabled";
        /**
         * PipelineName
         * @description A pipeline's name, unique within its team (any case).
         * @example api-gateway build
         */
        PipelineName: string;
        /**
         * PipelineRepository
         * @description The source repository the pipeline builds, as a URL or `host/owner/name`; no spaces.
         * @example github.com/opsdeck/api-gateway
         */
        PipelineRepository: string;
        /**
         * GitBranch
         * @description A git branch name.
         * @example main
         */
        GitBranch: string;
        /**
         * PipelineRunStatus
         * @description A run is `queued` when created, then `running`, and ends `succeeded`, `failed` or `cancelled` (a queued
         *     run may be cancelled before it starts). A finished run never changes again.
         * @example succeeded
         * @enum {string}
         */
        PipelineRunStatus: "queued" | "running" | "succeeded" | "failed" | "cancelled";
        /**
         * PipelineFields
         * @description The fields of a pipeline, of which only `id` is always present: a list asked for with `fields=…`
         *     carries just the fields named. Without `fields`, every field is present, as in `Pipeline`.
         * @example {
         *       "id": "0192f3a0-2b3c-7d4e-8f50-6a7b8c9d0e1f",
         *       "name": "api-gateway build",
         *       "status": "active"
         *     }
         */
        PipelineFields: {
            /**
             * Format: uuid
             * @description The pipeline's id (UUIDv7).
             * @example 0192f3a0-2b3c-7d4e-8f50-6a7b8c9d0e1f
             */
            id: string;
            /**
             * Format: uuid
             * @description The team that owns the pipeline.
             * @example 0192f0a0-0000-7000-8000-00000000000a
             */
            team_id?: string;
            name?: components["schemas"]["PipelineName"];
            repository?: components["schemas"]["PipelineRepository"];
            branch?: components["schemas"]["GitBranch"];
            status?: components["schemas"]["PipelineStatus"];
            /** @description The status of the pipeline's latest run, or `null` before its first. */
            last_run_status?: components["schemas"]["PipelineRunStatus"] | null;
            /**
             * Format: date-time
             * @description When it was created (RFC 3339, UTC).
             * @example 2026-11-21T10:30:00.000Z
             */
            created_at?: string;
            /**
             * Format: date-time
             * @description When it last changed, a new run included (RFC 3339, UTC).
             * @example 2026-11-21T11:02:00.000Z
             */
            updated_at?: string;
        };
        /**
         * PipelineListEnvelope
         * @description A page of pipelines, in the success envelope.
         */
        PipelineListEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            /** @description The pipelines of this page, each trimmed to `fields` when that was asked for. */
            data: components["schemas"]["PipelineFields"][];
            meta: components["schemas"]["Meta"];
            pagination: components["schemas"]["Pagination"];
        };
        /**
         * PipelineCreate
         * @description A new pipeline. Fields left out take their defaults (`branch` main, `status` active).
         * @example {
         *       "name": "api-gateway build",
         *       "repository": "github.com/opsdeck/api-gateway",
         *       "branch": "main"
         *     }
         */
        PipelineCreate: {
            /**
             * Format: uuid
             * @description The team that will own the pipeline; may be left out when the caller belongs to exactly one team.
             * @example 0192f0a0-0000-7000-8000-00000000000a
             */
            team_id?: string;
            name: components["schemas"]["PipelineName"];
            repository: components["schemas"]["PipelineRepository"];
            branch?: components["schemas"]["GitBranch"];
            status?: components["schemas"]["PipelineStatus"];
        };
        /**
         * Pipeline
         * @description A CI/CD pipeline of a team's repository and branch, and the outcome of its last run.
         * @example {
         *       "id": "0192f3a0-2b3c-7d4e-8f50-6a7b8c9d0e1f",
         *       "team_id": "0192f0a0-0000-7000-8000-00000000000a",
         *       "name": "api-gateway build",
         *       "repository": "github.com/opsdeck/api-gateway",
         *       "branch": "main",
         *       "status": "active",
         *       "last_run_status": "succeeded",
         *       "created_at": "2026-11-21T10:30:00.000Z",
         *       "updated_at": "2026-11-21T11:02:00.000Z"
         *     }
         */
        Pipeline: WithRequired<components["schemas"]["PipelineFields"], "team_id" | "name" | "repository" | "branch" | "status" | "last_run_status" | "created_at" | "updated_at">;
        /**
         * PipelineEnvelope
         * @description A pipeline, in the success envelope.
         */
        PipelineEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            data: components["schemas"]["Pipeline"];
            meta: components["schemas"]["Meta"];
        };
        /**
         * PipelineBulkFilter
         * @description Which of the caller's pipelines a bulk update applies to: all conditions hold together. At least one is
         *     required, so that changing every pipeline is always said on purpose (name a `team_id` for a whole team).
         *     A `team_id` that is not one of the caller's teams matches nothing.
         * @example {
         *       "team_id": "0192f0a0-0000-7000-8000-00000000000a",
         *       "status": "active"
         *     }
         */
        PipelineBulkFilter: {
            status?: components["schemas"]["PipelineStatus"];
            /**
             * Format: uuid
             * @description Only pipelines of this team.
             * @example 0192f0a0-0000-7000-8000-00000000000a
             */
            team_id?: string;
            /**
             * @description Only pipelines whose name contains this text (any case).
             * @example gateway
             */
            name_contains?: string;
        };
        /**
         * PipelineBulkUpdate
         * @description A change applied at once, in one statement, to every pipeline of the caller's teams that the filter matches.
         * @example {
         *       "filter": {
         *         "team_id": "0192f0a0-0000-7000-8000-00000000000a",
         *         "status": "active"
         *       },
         *       "set": {
         *         "status": "paused"
         *       }
         *     }
         */
        PipelineBulkUpdate: {
            filter: components["schemas"]["PipelineBulkFilter"];
            /**
             * @description What to set on every matched pipeline.
             * @example {
             *       "status": "paused"
             *     }
             */
            set: {
                status: components["schemas"]["PipelineStatus"];
            };
        };
        /**
         * PipelineBulkResult
         * @description What a bulk update did.
         * @example {
         *       "matched": 5,
         *       "updated": 4
         *     }
         */
        PipelineBulkResult: {
            /**
             * Format: int32
             * @description How many pipelines the filter matched.
             * @example 5
             */
            matched: number;
            /**
             * Format: int32
             * @description How many of them changed (the others already had the values set).
             * @example 4
             */
            updated: number;
        };
        /**
         * PipelineBulkResultEnvelope
         * @description The outcome of a bulk update, in the success envelope.
         */
        PipelineBulkResultEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            data: components["schemas"]["PipelineBulkResult"];
            meta: components["schemas"]["Meta"];
        };
        /**
         * PipelinePatch
         * @description A JSON merge patch (RFC 7396): fields present are set, fields left out stay as they are. An empty patch
         *     changes nothing.
         * @example {
         *       "status": "paused"
         *     }
         */
        PipelinePatch: {
            name?: components["schemas"]["PipelineName"];
            repository?: components["schemas"]["PipelineRepository"];
            branch?: components["schemas"]["GitBranch"];
            status?: components["schemas"]["PipelineStatus"];
        };
        /**
         * CommitSha
         * @description A git commit id, abbreviated (7 or more) or full (40 lower-case hexadecimal digits).
         * @example 9fceb02d0ae598e95dc970b74767f19372d61af8
         */
        CommitSha: string;
        /**
         * PipelineRunFields
         * @description The fields of a pipeline run, of which only `id` is always present: a list asked for with `fields=…`
         *     carries just the fields named. Without `fields`, every field is present, as in `PipelineRun`.
         * @example {
         *       "id": "0192f3b1-3c4d-7e5f-8a61-7b8c9d0e1f2a",
         *       "number": 42,
         *       "status": "queued"
         *     }
         */
        PipelineRunFields: {
            /**
             * Format: uuid
             * @description The run's id (UUIDv7).
             * @example 0192f3b1-3c4d-7e5f-8a61-7b8c9d0e1f2a
             */
            id: string;
            /**
             * Format: uuid
             * @description The pipeline run.
             * @example 0192f3a0-2b3c-7d4e-8f50-6a7b8c9d0e1f
             */
            pipeline_id?: string;
            /**
             * Format: uuid
             * @description The team of the pipeline.
             * @example 0192f0a0-0000-7000-8000-00000000000a
             */
            team_id?: string;
            /**
             * Format: int32
             * @description The run's number within its pipeline, from 1.
             * @example 42
             */
            number?: number;
            status?: components["schemas"]["PipelineRunStatus"];
            commit_sha?: components["schemas"]["CommitSha"];
            /**
             * Format: date-time
             * @description When it started running, or `null` while queued (RFC 3339, UTC).
             * @example null
             */
            started_at?: string | null;
            /**
             * Format: date-time
             * @description When it finished, or `null` (RFC 3339, UTC).
             * @example null
             */
            finished_at?: string | null;
            /**
             * Format: int32
             * @description Whole seconds from `started_at` to `finished_at`, or `null` until it finished.
             * @example null
             */
            duration_seconds?: number | null;
            /**
             * Format: uuid
             * @description The user who started the run, or `null`.
             * @example 0192f0d2-1a2b-7c3d-8e4f-5a6b7c8d9e0f
             */
            created_by?: string | null;
            /**
             * Format: date-time
             * @description When it was queued (RFC 3339, UTC).
             * @example 2026-11-21T11:02:00.000Z
             */
            created_at?: string;
        };
        /**
         * PipelineRunListEnvelope
         * @description A page of pipeline runs, in the success envelope.
         */
        PipelineRunListEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            /** @description The runs of this page, each trimmed to `fields` when that was asked for. */
            data: components["schemas"]["PipelineRunFields"][];
            meta: components["schemas"]["Meta"];
            pagination: components["schemas"]["Pagination"];
        };
        /**
         * PipelineRunCreate
         * @description A new run of the pipeline on a commit; it is queued.
         * @example {
         *       "commit_sha": "9fceb02d0ae598e95dc970b74767f19372d61af8"
         *     }
         */
        PipelineRunCreate: {
            commit_sha: components["schemas"]["CommitSha"];
        };
        /**
         * PipelineRun
         * @description One run of a pipeline on one commit.
         * @example {
         *       "id": "0192f3b1-3c4d-7e5f-8a61-7b8c9d0e1f2a",
         *       "pipeline_id": "0192f3a0-2b3c-7d4e-8f50-6a7b8c9d0e1f",
         *       "team_id": "0192f0a0-0000-7000-8000-00000000000a",
         *       "number": 42,
         *       "status": "queued",
         *       "commit_sha": "9fceb02d0ae598e95dc970b74767f19372d61af8",
         *       "started_at": null,
         *       "finished_at": null,
         *       "duration_seconds": null,
         *       "created_by": "0192f0d2-1a2b-7c3d-8e4f-5a6b7c8d9e0f",
         *       "created_at": "2026-11-21T11:02:00.000Z"
         *     }
         */
        PipelineRun: WithRequired<components["schemas"]["PipelineRunFields"], "pipeline_id" | "team_id" | "number" | "status" | "commit_sha" | "started_at" | "finished_at" | "duration_seconds" | "created_by" | "created_at">;
        /**
         * PipelineRunEnvelope
         * @description A pipeline run, in the success envelope.
         */
        PipelineRunEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            data: components["schemas"]["PipelineRun"];
            meta: components["schemas"]["Meta"];
        };
        /**
         * PipelineRunPatch
         * @description A JSON merge patch (RFC 7396) of a run's progress, as the CI runner reports it. Only `status` changes:
         *     `queued` → `running` → `succeeded` or `failed`, and `cancelled` from `queued` or `running`; the timings follow.
         *     The current status again changes nothing; any other change is `409 BIZ_PIPELINE_RUN_INVALID_TRANSITION`.
         *     An empty patch changes nothing.
         * @example {
         *       "status": "succeeded"
         *     }
         */
        PipelineRunPatch: {
            /**
             * @description The status the run moves to.
             * @example running
             * @enum {string}
             */
            status?: "running" | "succeeded" | "failed" | "cancelled";
        };
        /**
         * AlertSeverity
         * @description How urgent an alert is, from `info` (worth knowing) through `warning` (needs attention soon) to `critical` (act now). Sorting by severity follows this order, not the alphabet.
         * @example critical
         * @enum {string}
         */
        AlertSeverity: "info" | "warning" | "critical";
        /**
         * AlertStatus
         * @description `open` (raised, nobody has taken it) → `acknowledged` (someone is on it) → `resolved`; an open alert
         *     may also be resolved directly. A resolved alert never changes again; the same problem raised again is a
         *     new alert (its `fingerprint` is free once the old one is resolved).
         * @example open
         * @enum {string}
         */
        AlertStatus: "open" | "acknowledged" | "resolved";
        /**
         * AlertLabels
         * @description Labels: up to 20 name/value pairs, names of lowercase letters, digits and `_` (starting with a letter),
         *     values of at most 200 characters. Notification channels and silences match alerts by them.
         * @example {
         *       "service": "web",
         *       "env": "production"
         *     }
         */
        AlertLabels: {
            [key: string]: string;
        };
        /**
         * AlertFields
         * @description The fields of an alert, of which only `id` is always present: a list asked for with `fields=…`
         *     carries just the fields named. Without `fields`, every field is present, as in `Alert`.
         * @example {
         *       "id": "0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60",
         *       "title": "Disk /var above 90%",
         *       "status": "acknowledged"
         *     }
         */
        AlertFields: {
            /**
             * Format: uuid
             * @description The alert's id (UUIDv7).
             * @example 0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60
             */
            id: string;
            /**
             * Format: uuid
             * @description The team that owns the alert.
             * @example 0192f0a0-0000-7000-8000-00000000000a
             */
            team_id?: string;
            /**
             * Format: uuid
             * @description The agent the alert is about (an agent of the same team), or `null` for a team-wide alert.
             * @example 0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d
             */
            agent_id?: string | null;
            /**
             * @description One line saying what is wrong.
             * @example Disk /var above 90%
             */
            title?: string;
            /**
             * @description More detail for the person who handles it, or `null`.
             * @example /var is at 93% (46.5 of 50 GiB); it grew 4 GiB in the last hour.
             */
            message?: string | null;
            severity?: components["schemas"]["AlertSeverity"];
            status?: components["schemas"]["AlertStatus"];
            /**
             * @description What raised the alert (a monitoring system, a script), or `null`.
             * @example prometheus
             */
            source?: string | null;
            /**
             * @description The sender's key for "the same problem", or `null`. At most one unresolved alert of a team has a given fingerprint, so a sender that raises the same problem again is told it is already open.
             * @example node_filesystem_avail:web-01:/var
             */
            fingerprint?: string | null;
            /**
             * Format: uuid
             * @description The alert rule that raised the alert, or `null` for an alert raised through the API. Absent on alerts read from an older server.
             * @example 0192f4a0-1b2c-7d3e-8f40-5a6b7c8d9e01
             */
            rule_id?: string | null;
            /** @description The labels of the rule that raised the alert (notification channels and silences match them), or `null`. */
            labels?: components["schemas"]["AlertLabels"] | null;
            /**
             * Format: uuid
             * @description The user who acknowledged it, or `null`.
             * @example 0192f0d2-1a2b-7c3d-8e4f-5a6b7c8d9e0f
             */
            acknowledged_by?: string | null;
            /**
             * Format: date-time
             * @description When it was acknowledged (RFC 3339, UTC), or `null`.
             * @example 2026-11-21T10:35:00.000Z
             */
            acknowledged_at?: string | null;
            /**
             * Format: uuid
             * @description The user who resolved it, or `null`.
             * @example null
             */
            resolved_by?: string | null;
            /**
             * Format: date-time
             * @description When it was resolved (RFC 3339, UTC), or `null`.
             * @example null
             */
            resolved_at?: string | null;
            /**
             * Format: date-time
             * @description When it was raised (RFC 3339, UTC).
             * @example 2026-11-21T10:30:00.000Z
             */
            created_at?: string;
            /**
             * Format: date-time
             * @description When it last changed (RFC 3339, UTC).
             * @example 2026-11-21T10:35:00.000Z
             */
            updated_at?: string;
        };
        /**
         * AlertListEnvelope
         * @description A page of alerts, in the success envelope.
         */
        AlertListEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            /** @description The alerts of this page, each trimmed to `fields` when that was asked for. */
            data: components["schemas"]["AlertFields"][];
            meta: components["schemas"]["Meta"];
            pagination: components["schemas"]["Pagination"];
        };
        /**
         * AlertCreate
         * @description A new alert; it starts `open`. `team_id` may be left out when `agent_id` names the agent (the alert goes
         *     to the agent's team) or when the caller belongs to exactly one team. `createAlerts` checks each of its
         *     items against this schema, one by one.
         * @example {
         *       "agent_id": "0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d",
         *       "title": "Disk /var above 90%",
         *       "message": "/var is at 93% (46.5 of 50 GiB); it grew 4 GiB in the last hour.",
         *       "severity": "critical",
         *       "source": "prometheus",
         *       "fingerprint": "node_filesystem_avail:web-01:/var"
         *     }
         */
        AlertCreate: {
            /**
             * Format: uuid
             * @description The team that will own the alert (one of the caller's); when `agent_id` is given too, the agent must belong to it.
             * @example 0192f0a0-0000-7000-8000-00000000000a
             */
            team_id?: string;
            /**
             * Format: uuid
             * @description The agent the alert is about, one of the caller's teams' agents.
             * @example 0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d
             */
            agent_id?: string;
            /**
             * @description One line saying what is wrong.
             * @example Disk /var above 90%
             */
            title: string;
            /**
             * @description More detail for the person who handles it.
             * @example /var is at 93% (46.5 of 50 GiB); it grew 4 GiB in the last hour.
             */
            message?: string;
            severity: components["schemas"]["AlertSeverity"];
            /**
             * @description What raised the alert (a monitoring system, a script).
             * @example prometheus
             */
            source?: string;
            /**
             * @description Your key for "the same problem"; refused with `RES_ALREADY_EXISTS` while an unresolved alert of the team has it.
             * @example node_filesystem_avail:web-01:/var
             */
            fingerprint?: string;
        };
        /**
         * Alert
         * @description A problem raised about the fleet of a team, optionally about one of its agents, from the moment it is raised until it is resolved.
         * @example {
         *       "id": "0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60",
         *       "team_id": "0192f0a0-0000-7000-8000-00000000000a",
         *       "agent_id": "0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d",
         *       "title": "Disk /var above 90%",
         *       "message": "/var is at 93% (46.5 of 50 GiB); it grew 4 GiB in the last hour.",
         *       "severity": "critical",
         *       "status": "acknowledged",
         *       "source": "prometheus",
         *       "fingerprint": "node_filesystem_avail:web-01:/var",
         *       "acknowledged_by": "0192f0d2-1a2b-7c3d-8e4f-5a6b7c8d9e0f",
         *       "acknowledged_at": "2026-11-21T10:35:00.000Z",
         *       "resolved_by": null,
         *       "resolved_at": null,
         *       "created_at": "2026-11-21T10:30:00.000Z",
         *       "updated_at": "2026-11-21T10:35:00.000Z"
         *     }
         */
        Alert: WithRequired<components["schemas"]["AlertFields"], "team_id" | "agent_id" | "title" | "message" | "severity" | "status" | "source" | "fingerprint" | "acknowledged_by" | "acknowledged_at" | "resolved_by" | "resolved_at" | "created_at" | "updated_at">;
        /**
         * AlertEnvelope
         * @description An alert, in the success envelope.
         */
        AlertEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            data: components["schemas"]["Alert"];
            meta: components["schemas"]["Meta"];
        };
        /**
         * AlertBulkItem
         * @description One alert of a `createAlerts` request, as `AlertCreate` describes it. The contract checks only its shape
         *     for the whole request: an object with no unknown fields, each field a string (not a number, boolean or
         *     `null`: bodies are never converted) within its length and without the NUL character. Everything
         *     else of `AlertCreate` (the required `title` and `severity`, the values of `severity`, UUIDs, the pattern of
         *     `source`) and the rules (an agent and team of the caller's, a free fingerprint) are checked item by item,
         *     so an item that breaks them fails alone and the others are created.
         * @example {
         *       "agent_id": "0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d",
         *       "title": "Disk /var above 90%",
         *       "severity": "critical",
         *       "source": "prometheus",
         *       "fingerprint": "node_filesystem_avail:web-01:/var"
         *     }
         */
        AlertBulkItem: {
            /**
             * @description As in `AlertCreate`; checked per item.
             * @example 0192f0a0-0000-7000-8000-00000000000a
             */
            team_id?: string;
            /**
             * @description As in `AlertCreate`; checked per item.
             * @example 0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d
             */
            agent_id?: string;
            /**
             * @description As in `AlertCreate`; required, checked per item.
             * @example Disk /var above 90%
             */
            title?: string;
            /**
             * @description As in `AlertCreate`.
             * @example /var is at 93% (46.5 of 50 GiB); it grew 4 GiB in the last hour.
             */
            message?: string;
            /**
             * @description As in `AlertCreate` (`info`, `warning` or `critical`); required, checked per item.
             * @example critical
             */
            severity?: string;
            /**
             * @description As in `AlertCreate`; checked per item.
             * @example prometheus
             */
            source?: string;
            /**
             * @description As in `AlertCreate`; a fingerprint taken by an unresolved alert of the team, or by an earlier item of the same request, fails the item.
             * @example node_filesystem_avail:web-01:/var
             */
            fingerprint?: string;
        };
        /**
         * AlertBulkCreate
         * @description Up to 1,000 new alerts in one request. A body whose shape is wrong (no `alerts`, none or more than 1,000
         *     of them, an item that is not an object, has an unknown field, or a field that is not a string, is too long
         *     or holds a NUL character) is refused as a whole with `422`, and a body over the server's size limit with `413`; nothing is
         *     created. Otherwise each item is checked and stored on its own: see `createAlerts`.
         * @example {
         *       "alerts": [
         *         {
         *           "agent_id": "0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d",
         *           "title": "Disk /var above 90%",
         *           "severity": "critical",
         *           "source": "prometheus",
         *           "fingerprint": "node_filesystem_avail:web-01:/var"
         *         },
         *         {
         *           "agent_id": "0192f0c1-0000-7000-8000-000000000000",
         *           "title": "Load above 8",
         *           "severity": "warning",
         *           "source": "prometheus"
         *         },
         *         {
         *           "title": "Certificate for api.example.com expires in 14 days",
         *           "severity": "info",
         *           "source": "cert-checker"
         *         }
         *       ]
         *     }
         */
        AlertBulkCreate: {
            /** @description The alerts to raise, in order; the answer's `results` follow the same order. */
            alerts: components["schemas"]["AlertBulkItem"][];
        };
        /**
         * AlertBulkItemResult
         * @description What became of one item of a `createAlerts` request, at the item's position.
         * @example {
         *       "index": 1,
         *       "status": "failed",
         *       "error": {
         *         "code": "RES_NOT_FOUND",
         *         "message": "Agent 0192f0c1-0000-7000-8000-000000000000 not found",
         *         "details": [
         *           {
         *             "field": "agent_id",
         *             "message": "no such agent in the caller's teams",
         *             "value": "0192f0c1-0000-7000-8000-000000000000"
         *           }
         *         ]
         *       }
         *     }
         */
        AlertBulkItemResult: {
            /**
             * Format: int32
             * @description The item's position in the request's `alerts` (from 0).
             * @example 0
             */
            index: number;
            /**
             * @description `created` (then `id` is set) or `failed` (then `error` says why, and nothing of the item was stored).
             * @example created
             * @enum {string}
             */
            status: "created" | "failed";
            /**
             * Format: uuid
             * @description The new alert's id, when `created`.
             * @example 0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60
             */
            id?: string;
            /** @description Why the item failed, with the code and details the same problem gets from `createAlert`. */
            error?: {
                code: components["schemas"]["ErrorCode"];
                /**
                 * @description A sentence for a person; may change between releases, unlike `code`.
                 * @example Agent 0192f0c1-0000-7000-8000-000000000000 not found
                 */
                message: string;
                /** @description Field-level problems of the item; each `field` is a field of the item. */
                details?: components["schemas"]["ErrorDetail"][];
            };
        };
        /**
         * AlertBulkResult
         * @description The outcome of a `createAlerts` request, item by item; `created` + `failed` is the number of items sent.
         * @example {
         *       "created": 2,
         *       "failed": 1,
         *       "results": [
         *         {
         *           "index": 0,
         *           "status": "created",
         *           "id": "0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60"
         *         },
         *         {
         *           "index": 1,
         *           "status": "failed",
         *           "error": {
         *             "code": "RES_NOT_FOUND",
         *             "message": "Agent 0192f0c1-0000-7000-8000-000000000000 not found",
         *             "details": [
         *               {
         *                 "field": "agent_id",
         *                 "message": "no such agent in the caller's teams",
         *                 "value": "0192f0c1-0000-7000-8000-000000000000"
         *               }
         *             ]
         *           }
         *         },
         *         {
         *           "index": 2,
         *           "status": "created",
         *           "id": "0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f61"
         *         }
         *       ]
         *     }
         */
        AlertBulkResult: {
            /**
             * Format: int32
             * @description How many items were created.
             * @example 2
             */
            created: number;
            /**
             * Format: int32
             * @description How many items failed; nothing of them was stored.
             * @example 1
             */
            failed: number;
            /** @description One result per item, in the order of the request's `alerts`. */
            results: components["schemas"]["AlertBulkItemResult"][];
        };
        /**
         * AlertBulkResultEnvelope
         * @description The outcome of a `createAlerts` request, in the success envelope.
         */
        AlertBulkResultEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            data: components["schemas"]["AlertBulkResult"];
            meta: components["schemas"]["Meta"];
        };
        /**
         * AlertRuleName
         * @description The rule's name, also the title of the alerts it raises.
         * @example CPU above 90%
         */
        AlertRuleName: string;
        /**
         * AlertRuleScope
         * @description Which agents of the rule's team the rule watches: every criterion given must hold (an empty object is the
         *     whole team). `agent_id` names one agent, `group_id` the members of an agent group, and `platform`,
         *     `status` and `tags` filter as `listAgents` does (`tags`: the agent carries every one of them).
         * @example {
         *       "group_id": "0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60"
         *     }
         * @example {}
         */
        AlertRuleScope: {
            /**
             * Format: uuid
             * @description Only this agent (an agent of the rule's team).
             * @example 0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d
             */
            agent_id?: string;
            /**
             * Format: uuid
             * @description Only the members of this agent group (a group of the rule's team).
             * @example 0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60
             */
            group_id?: string;
            platform?: components["schemas"]["Platform"];
            status?: components["schemas"]["AgentStatus"];
            /**
             * @description Only agents that carry every one of these tags.
             * @example [
             *       "production"
             *     ]
             */
            tags?: string[];
        };
        /**
         * AlertRuleCondition
         * @description What makes a rule's condition true for one agent: `aggregation` of the agent's samples of the rule's metric
         *     over the last `window_seconds`, compared with `threshold` by `operator`. `count` counts the samples.
         * @example {
         *       "aggregation": "avg",
         *       "window_seconds": 300,
         *       "operator": ">",
         *       "threshold": 90
         *     }
         */
        AlertRuleCondition: {
            /**
             * @description How the samples of the window become one number.
             * @example avg
             * @enum {string}
             */
            aggregation: "avg" | "min" | "max" | "last" | "count";
            /**
             * Format: int32
             * @description How far back the samples are taken, in seconds (5 seconds to 1 day).
             * @example 300
             */
            window_seconds: number;
            /**
             * @description How the aggregated value is compared with the threshold.
             * @example >
             * @enum {string}
             */
            operator: ">" | ">=" | "<" | "<=" | "==" | "!=";
            /**
             * @description The number the aggregated value is compared with.
             * @example 90
             */
            threshold: number;
        };
        /**
         * AlertRuleNoDataSeconds
         * Format: int32
         * @description What the rule does for an agent in scope that reports no sample of the metric: `null` ignores it (the
         *     condition is false); a number of seconds fires once the agent has sent no sample for that long (its alert
         *     then says `no data` for the value).
         * @example 600
         */
        AlertRuleNoDataSeconds: number | null;
        /**
         * AlertRuleDescriptionTemplate
         * @description The message of the alerts the rule raises. Placeholders in double braces are replaced, nothing else is
         *     interpreted: `{{value}}` (the aggregated value, or `no data`), `{{threshold}}`, `{{metric}}`, `{{rule.name}}`,
         *     `{{agent.id}}`, `{{agent.hostname}}`, `{{agent.platform}}` and `{{labels.<name>}}`; an unknown placeholder
         *     is left as written.
         * @example CPU {{value}}% on {{agent.hostname}}
         */
        AlertRuleDescriptionTemplate: string;
        /**
         * AlertRule
         * @description A rule that raises alerts from the metrics agents report. Every evaluation interval, for each agent in
         *     `scope`, the `condition` is computed over the agent's samples; an agent whose condition holds is pending,
         *     and after `for_seconds` its alert fires (one alert per rule and agent, carrying `rule_id` and `labels`, raised
         *     with the `alert.triggered` event); when the condition clears, that alert is resolved (`alert.resolved`).
         * @example {
         *       "id": "0192f4a0-1b2c-7d3e-8f40-5a6b7c8d9e01",
         *       "team_id": "0192f0a0-0000-7000-8000-00000000000a",
         *       "name": "CPU above 90%",
         *       "metric": "cpu_usage",
         *       "scope": {
         *         "group_id": "0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60"
         *       },
         *       "condition": {
         *         "aggregation": "avg",
         *         "window_seconds": 300,
         *         "operator": ">",
         *         "threshold": 90
         *       },
         *       "for_seconds": 120,
         *       "no_data_seconds": null,
         *       "severity": "critical",
         *       "labels": {
         *         "service": "web"
         *       },
         *       "description_template": "CPU {{value}}% on {{agent.hostname}}",
         *       "enabled": true,
         *       "created_at": "2026-12-03T10:00:00.000Z",
         *       "updated_at": "2026-12-03T10:00:00.000Z"
         *     }
         */
        AlertRule: {
            /**
             * Format: uuid
             * @description The rule's id (UUIDv7).
             * @example 0192f4a0-1b2c-7d3e-8f40-5a6b7c8d9e01
             */
            id: string;
            /**
             * Format: uuid
             * @description The team that owns the rule; it watches only that team's agents.
             * @example 0192f0a0-0000-7000-8000-00000000000a
             */
            team_id: string;
            name: components["schemas"]["AlertRuleName"];
            metric: components["schemas"]["MetricName"];
            scope: components["schemas"]["AlertRuleScope"];
            condition: components["schemas"]["AlertRuleCondition"];
            /**
             * Format: int32
             * @description How long the condition must hold for an agent before its alert fires (0 fires at the first evaluation that finds it true); until then the agent is pending.
             * @example 120
             */
            for_seconds: number;
            no_data_seconds: components["schemas"]["AlertRuleNoDataSeconds"];
            severity: components["schemas"]["AlertSeverity"];
            labels: components["schemas"]["AlertLabels"];
            description_template: components["schemas"]["AlertRuleDescriptionTemplate"];
            /**
             * @description Whether the rule is evaluated; turning it off resolves the alerts it has firing.
             * @example true
             */
            enabled: boolean;
            /**
             * Format: date-time
             * @description When the rule was created (RFC 3339, UTC).
             * @example 2026-12-03T10:00:00.000Z
             */
            created_at: string;
            /**
             * Format: date-time
             * @description When the rule last changed (RFC 3339, UTC).
             * @example 2026-12-03T10:00:00.000Z
             */
            updated_at: string;
        };
        /**
         * AlertRuleListEnvelope
         * @description A page of alert rules, in the success envelope.
         */
        AlertRuleListEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            /** @description The alert rules of this page. */
            data: components["schemas"]["AlertRule"][];
            meta: components["schemas"]["Meta"];
            pagination: components["schemas"]["Pagination"];
        };
        /**
         * AlertRuleCreate
         * @description A new alert rule. `team_id` may be left out when the caller belongs to exactly one team.
         * @example {
         *       "name": "CPU above 90%",
         *       "metric": "cpu_usage",
         *       "scope": {
         *         "group_id": "0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60"
         *       },
         *       "condition": {
         *         "aggregation": "avg",
         *         "window_seconds": 300,
         *         "operator": ">",
         *         "threshold": 90
         *       },
         *       "for_seconds": 120,
         *       "severity": "critical",
         *       "labels": {
         *         "service": "web"
         *       },
         *       "description_template": "CPU {{value}}% on {{agent.hostname}}"
         *     }
         */
        AlertRuleCreate: {
            /**
             * Format: uuid
             * @description The team that will own the rule (one of the caller's); defaults to the caller's only team.
             * @example 0192f0a0-0000-7000-8000-00000000000a
             */
            team_id?: string;
            name: components["schemas"]["AlertRuleName"];
            metric: components["schemas"]["MetricName"];
            scope?: components["schemas"]["AlertRuleScope"];
            condition: components["schemas"]["AlertRuleCondition"];
            /**
             * Format: int32
             * @description How long the condition must hold before the alert fires (default 0).
             * @example 120
             */
            for_seconds?: number;
            no_data_seconds?: components["schemas"]["AlertRuleNoDataSeconds"];
            severity: components["schemas"]["AlertSeverity"];
            labels?: components["schemas"]["AlertLabels"];
            description_template?: components["schemas"]["AlertRuleDescriptionTemplate"];
            /**
             * @description Whether the rule is evaluated (default `true`).
             * @example true
             */
            enabled?: boolean;
        };
        /**
         * AlertRuleEnvelope
         * @description An alert rule, in the success envelope.
         */
        AlertRuleEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            data: components["schemas"]["AlertRule"];
            meta: components["schemas"]["Meta"];
        };
        /**
         * AlertRulePatch
         * @description A JSON merge patch of an alert rule; an object field (`scope`, `condition`, `labels`) is replaced whole. A rule never changes team.
         * @example {
         *       "enabled": false
         *     }
         */
        AlertRulePatch: {
            name?: components["schemas"]["AlertRuleName"];
            metric?: components["schemas"]["MetricName"];
            scope?: components["schemas"]["AlertRuleScope"];
            condition?: components["schemas"]["AlertRuleCondition"];
            /**
             * Format: int32
             * @description How long the condition must hold before the alert fires.
             * @example 60
             */
            for_seconds?: number;
            no_data_seconds?: components["schemas"]["AlertRuleNoDataSeconds"];
            severity?: components["schemas"]["AlertSeverity"];
            labels?: components["schemas"]["AlertLabels"];
            description_template?: components["schemas"]["AlertRuleDescriptionTemplate"];
            /**
             * @description Whether the rule is evaluated; turning it off resolves the alerts it has firing.
             * @example false
             */
            enabled?: boolean;
        };
        /**
         * NotificationChannelName
         * @description The channel's name, for people.
         * @example #ops-alerts
         */
        NotificationChannelName: string;
        /**
         * NotificationChannelKind
         * @description How a channel notifies: `webhook` queues a signed delivery to one of the team's webhooks (as its other
         *     deliveries, listed under it), `slack` posts `{ text, blocks }` to a Slack-compatible incoming-webhook URL,
         *     `email` sends a mail through the server's SMTP relay (`SMTP_URL`, from `SMTP_FROM`) to `email_to`.
         * @example slack
         * @enum {string}
         */
        NotificationChannelKind: "webhook" | "slack" | "email";
        /**
         * NotificationEmailTo
         * @description The addresses an `email` channel writes to (1 to 20).
         * @example [
         *       "oncall@example.com"
         *     ]
         */
        NotificationEmailTo: string[];
        /**
         * NotificationChannel
         * @description Where a team's alerts are sent. An alert of the team notifies every enabled channel whose `min_severity` it
         *     reaches and whose `label_matchers` its labels all equal, when it is raised (`alert.triggered`) and when it
         *     is resolved (`alert.resolved`), unless an active silence matches it. Notifications go through the outbox and
         *     are retried as webhook deliveries are (`x-webhook-delivery`).
         *
         *     A `webhook` channel sends the alert event to its webhook as the webhook's own subscription would (same
         *     `X-Opsdeck-Event`, same body). A webhook receives each event at most once: when it is also subscribed to that
         *     event type, its subscription's delivery is the only one (the channel adds none, and a silence does not hold
         *     back what a subscription receives); two channels routed to one webhook deliver once.
         * @example {
         *       "id": "0192f4b0-2c3d-7e4f-9a50-6b7c8d9e0f12",
         *       "team_id": "0192f0a0-0000-7000-8000-00000000000a",
         *       "name": "#ops-alerts",
         *       "kind": "slack",
         *       "webhook_id": null,
         *       "email_to": null,
         *       "slack_url_hint": "…XXXX",
         *       "min_severity": "warning",
         *       "label_matchers": {
         *         "service": "web"
         *       },
         *       "enabled": true,
         *       "created_at": "2026-12-03T10:00:00.000Z",
         *       "updated_at": "2026-12-03T10:00:00.000Z"
         *     }
         */
        NotificationChannel: {
            /**
             * Format: uuid
             * @description The channel's id (UUIDv7).
             * @example 0192f4b0-2c3d-7e4f-9a50-6b7c8d9e0f12
             */
            id: string;
            /**
             * Format: uuid
             * @description The team whose alerts the channel sends.
             * @example 0192f0a0-0000-7000-8000-00000000000a
             */
            team_id: string;
            name: components["schemas"]["NotificationChannelName"];
            kind: components["schemas"]["NotificationChannelKind"];
            /**
             * Format: uuid
             * @description The webhook a `webhook` channel delivers to (one of the team's); `null` for other kinds.
             * @example null
             */
            webhook_id: string | null;
            /** @description The addresses of an `email` channel; `null` for other kinds. */
            email_to: components["schemas"]["NotificationEmailTo"] | null;
            /**
             * @description The last characters of a `slack` channel's URL, to tell channels apart (the URL itself is never shown); `null` for other kinds.
             * @example …XXXX
             */
            slack_url_hint: string | null;
            min_severity: components["schemas"]["AlertSeverity"];
            label_matchers: components["schemas"]["AlertLabels"];
            /**
             * @description Whether the channel is notified.
             * @example true
             */
            enabled: boolean;
            /**
             * Format: date-time
             * @description When the channel was created (RFC 3339, UTC).
             * @example 2026-12-03T10:00:00.000Z
             */
            created_at: string;
            /**
             * Format: date-time
             * @description When the channel last changed (RFC 3339, UTC).
             * @example 2026-12-03T10:00:00.000Z
             */
            updated_at: string;
        };
        /**
         * NotificationChannelListEnvelope
         * @description A page of notification channels, in the success envelope.
         */
        NotificationChannelListEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            /** @description The notification channels of this page. */
            data: components["schemas"]["NotificationChannel"][];
            meta: components["schemas"]["Meta"];
            pagination: components["schemas"]["Pagination"];
        };
        /**
         * NotificationSlackUrl
         * Format: uri
         * @description The incoming-webhook URL of a `slack` channel (`https://hooks.slack.com/services/…` or any Slack-compatible receiver). It is a secret, stored encrypted and never shown again; the channel shows `slack_url_hint`.
         * @example https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXX
         */
        NotificationSlackUrl: string;
        /**
         * NotificationChannelCreate
         * @description A new notification channel: a `webhook` channel needs `webhook_id`, a `slack` channel `slack_url`, an
         *     `email` channel `email_to` (422 `VAL_REQUIRED_FIELD` otherwise). `team_id` may be left out when the caller
         *     belongs to exactly one team.
         * @example {
         *       "name": "#ops-alerts",
         *       "kind": "slack",
         *       "slack_url": "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXX",
         *       "min_severity": "warning",
         *       "label_matchers": {
         *         "service": "web"
         *       }
         *     }
         */
        NotificationChannelCreate: {
            /**
             * Format: uuid
             * @description The team whose alerts the channel sends (one of the caller's); defaults to the caller's only team.
             * @example 0192f0a0-0000-7000-8000-00000000000a
             */
            team_id?: string;
            name: components["schemas"]["NotificationChannelName"];
            kind: components["schemas"]["NotificationChannelKind"];
            /**
             * Format: uuid
             * @description For a `webhook` channel, one of the team's webhooks.
             * @example 0192f3c0-2d4e-7f60-8a1b-2c3d4e5f6a7b
             */
            webhook_id?: string;
            slack_url?: components["schemas"]["NotificationSlackUrl"];
            email_to?: components["schemas"]["NotificationEmailTo"];
            min_severity?: components["schemas"]["AlertSeverity"];
            label_matchers?: components["schemas"]["AlertLabels"];
            /**
             * @description Whether the channel is notified (default `true`).
             * @example true
             */
            enabled?: boolean;
        };
        /**
         * NotificationChannelEnvelope
         * @description A notification channel, in the success envelope.
         */
        NotificationChannelEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            data: components["schemas"]["NotificationChannel"];
            meta: components["schemas"]["Meta"];
        };
        /**
         * NotificationChannelPatch
         * @description A JSON merge patch of a notification channel; its kind and team never change, and the fields of another kind are refused (422).
         * @example {
         *       "min_severity": "critical"
         *     }
         */
        NotificationChannelPatch: {
            name?: components["schemas"]["NotificationChannelName"];
            /**
             * Format: uuid
             * @description For a `webhook` channel, another of the team's webhooks.
             * @example 0192f3c0-2d4e-7f60-8a1b-2c3d4e5f6a7b
             */
            webhook_id?: string;
            slack_url?: components["schemas"]["NotificationSlackUrl"];
            email_to?: components["schemas"]["NotificationEmailTo"];
            min_severity?: components["schemas"]["AlertSeverity"];
            label_matchers?: components["schemas"]["AlertLabels"];
            /**
             * @description Whether the channel is notified.
             * @example false
             */
            enabled?: boolean;
        };
        /**
         * NotificationTest
         * @description A test notification queued for one channel; it goes out as any notification does (retried if it fails).
         * @example {
         *       "channel_id": "0192f4b0-2c3d-7e4f-9a50-6b7c8d9e0f12",
         *       "delivery_id": "0192f4d0-4e5f-7a60-9b70-8d9e0f1a2b34",
         *       "status": "pending"
         *     }
         */
        NotificationTest: {
            /**
             * Format: uuid
             * @description The channel tested.
             * @example 0192f4b0-2c3d-7e4f-9a50-6b7c8d9e0f12
             */
            channel_id: string;
            /**
             * Format: uuid
             * @description The queued delivery (for a `webhook` channel, a delivery of its webhook, listed with the webhook's deliveries).
             * @example 0192f4d0-4e5f-7a60-9b70-8d9e0f1a2b34
             */
            delivery_id: string;
            /**
             * @description Always `pending` when queued.
             * @example pending
             * @enum {string}
             */
            status: "pending";
        };
        /**
         * NotificationTestEnvelope
         * @description A queued test notification, in the success envelope.
         */
        NotificationTestEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            data: components["schemas"]["NotificationTest"];
            meta: components["schemas"]["Meta"];
        };
        /**
         * AlertSilenceMatchers
         * @description The labels an alert must carry, each with exactly this value, to be silenced (1 to 20; an alert without labels is never silenced).
         * @example {
         *       "service": "web"
         *     }
         */
        AlertSilenceMatchers: {
            [key: string]: string;
        };
        /**
         * AlertSilence
         * @description A time window in which the team's alerts whose labels equal all of `matchers` notify no channel. The alerts
         *     are still raised, resolved and listed, and webhooks registered for alert events still receive them; only
         *     notification channels stay quiet. A silence is active from `starts_at` until `ends_at`.
         * @example {
         *       "id": "0192f4c0-3d4e-7f50-8a60-7c8d9e0f1a23",
         *       "team_id": "0192f0a0-0000-7000-8000-00000000000a",
         *       "starts_at": "2026-12-03T22:00:00.000Z",
         *       "ends_at": "2026-12-04T02:00:00.000Z",
         *       "matchers": {
         *         "service": "web"
         *       },
         *       "comment": "Database migration on the web tier",
         *       "created_by": "0192f0d2-1a2b-7c3d-8e4f-5a6b7c8d9e0f",
         *       "created_at": "2026-12-03T10:00:00.000Z",
         *       "updated_at": "2026-12-03T10:00:00.000Z"
         *     }
         */
        AlertSilence: {
            /**
             * Format: uuid
             * @description The silence's id (UUIDv7).
             * @example 0192f4c0-3d4e-7f50-8a60-7c8d9e0f1a23
             */
            id: string;
            /**
             * Format: uuid
             * @description The team whose alerts it silences.
             * @example 0192f0a0-0000-7000-8000-00000000000a
             */
            team_id: string;
            /**
             * Format: date-time
             * @description When it starts (RFC 3339, UTC).
             * @example 2026-12-03T22:00:00.000Z
             */
            starts_at: string;
            /**
             * Format: date-time
             * @description When it ends (RFC 3339, UTC), after `starts_at`.
             * @example 2026-12-04T02:00:00.000Z
             */
            ends_at: string;
            matchers: components["schemas"]["AlertSilenceMatchers"];
            /**
             * @description Why, for the people who will wonder.
             * @example Database migration on the web tier
             */
            comment: string;
            /**
             * Format: uuid
             * @description The user (or API key owner) who created it.
             * @example 0192f0d2-1a2b-7c3d-8e4f-5a6b7c8d9e0f
             */
            created_by: string | null;
            /**
             * Format: date-time
             * @description When it was created (RFC 3339, UTC).
             * @example 2026-12-03T10:00:00.000Z
             */
            created_at: string;
            /**
             * Format: date-time
             * @description When it last changed (RFC 3339, UTC).
             * @example 2026-12-03T10:00:00.000Z
             */
            updated_at: string;
        };
        /**
         * AlertSilenceListEnvelope
         * @description A page of silences, in the success envelope.
         */
        AlertSilenceListEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            /** @description The silences of this page. */
            data: components["schemas"]["AlertSilence"][];
            meta: components["schemas"]["Meta"];
            pagination: components["schemas"]["Pagination"];
        };
        /**
         * AlertSilenceCreate
         * @description A new silence; `starts_at` defaults to now. `team_id` may be left out when the caller belongs to exactly one team.
         * @example {
         *       "starts_at": "2026-12-03T22:00:00.000Z",
         *       "ends_at": "2026-12-04T02:00:00.000Z",
         *       "matchers": {
         *         "service": "web"
         *       },
         *       "comment": "Database migration on the web tier"
         *     }
         */
        AlertSilenceCreate: {
            /**
             * Format: uuid
             * @description The team whose alerts it silences (one of the caller's); defaults to the caller's only team.
             * @example 0192f0a0-0000-7000-8000-00000000000a
             */
            team_id?: string;
            /**
             * Format: date-time
             * @description When it starts (default now).
             * @example 2026-12-03T22:00:00.000Z
             */
            starts_at?: string;
            /**
             * Format: date-time
             * @description When it ends, after `starts_at` (422 otherwise).
             * @example 2026-12-04T02:00:00.000Z
             */
            ends_at: string;
            matchers: components["schemas"]["AlertSilenceMatchers"];
            /**
             * @description Why, for the people who will wonder.
             * @example Database migration on the web tier
             */
            comment: string;
        };
        /**
         * AlertSilenceEnvelope
         * @description A silence, in the success envelope.
         */
        AlertSilenceEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            data: components["schemas"]["AlertSilence"];
            meta: components["schemas"]["Meta"];
        };
        /**
         * AlertSilencePatch
         * @description A JSON merge patch of a silence (`matchers` is replaced whole); ending it early is setting `ends_at` to now.
         * @example {
         *       "ends_at": "2026-12-04T04:00:00.000Z"
         *     }
         */
        AlertSilencePatch: {
            /**
             * Format: date-time
             * @description When it starts.
             * @example 2026-12-03T22:00:00.000Z
             */
            starts_at?: string;
            /**
             * Format: date-time
             * @description When it ends, after `starts_at` (422 otherwise).
             * @example 2026-12-04T04:00:00.000Z
             */
            ends_at?: string;
            matchers?: components["schemas"]["AlertSilenceMatchers"];
            /**
             * @description Why, for the people who will wonder.
             * @example Migration runs late
             */
            comment?: string;
        };
        /**
         * EventType
         * @description What happened. Webhooks subscribe to event types; the live stream delivers them by channel (`x-channel`). New types may be added within a version, so a consumer should ignore types it does not know.
         * @example alert.triggered
         */
        EventType: string & ("task.created" | "task.completed" | "task.failed" | "task.cancelled" | "alert.triggered" | "alert.acknowledged" | "alert.resolved" | "deployment.finished" | "deployment.created" | "deployment.rollback_requested" | "pipeline.run.started" | "pipeline.run.completed" | "pipeline.updated" | "agent.enrolled" | "agent.offline");
        /**
         * Webhook
         * @description An HTTPS endpoint of a team that receives its events as signed `POST` requests. The secret that signs them is shown only once, when the webhook is created; `secret_hint` helps tell which secret is in use.
         * @example {
         *       "id": "0192f3c0-2d4e-7f60-8a1b-2c3d4e5f6a7b",
         *       "team_id": "0192f0a0-0000-7000-8000-00000000000a",
         *       "url": "https://hooks.example.com/opsdeck",
         *       "events": [
         *         "alert.triggered",
         *         "task.failed"
         *       ],
         *       "description": "PagerDuty bridge for the on-call rota",
         *       "active": true,
         *       "disabled_reason": null,
         *       "disabled_at": null,
         *       "secret_hint": "…5b4a",
         *       "consecutive_failures": 0,
         *       "last_delivery_at": "2026-11-21T10:30:02.000Z",
         *       "created_at": "2026-11-20T09:00:00.000Z",
         *       "updated_at": "2026-11-20T09:00:00.000Z"
         *     }
         */
        Webhook: {
            /**
             * Format: uuid
             * @description The webhook's id.
             * @example 0192f3c0-2d4e-7f60-8a1b-2c3d4e5f6a7b
             */
            id: string;
            /**
             * Format: uuid
             * @description The team whose events it receives.
             * @example 0192f0a0-0000-7000-8000-00000000000a
             */
            team_id: string;
            /**
             * Format: uri
             * @description Where deliveries are POSTed: an `https://` (or `http://`) URL whose host resolves to public addresses only; private, loopback and link-local targets are refused unless the server allows them (`WEBHOOK_ALLOW_PRIVATE_TARGETS`).
             * @example https://hooks.example.com/opsdeck
             */
            url: string;
            /**
             * @description The event types to deliver (at least one, each at most once).
             * @example [
             *       "alert.triggered",
             *       "task.failed"
             *     ]
             */
            events: components["schemas"]["EventType"][];
            /**
             * @description What the endpoint is for, for people.
             * @example PagerDuty bridge for the on-call rota
             */
            description: string | null;
            /**
             * @description Whether events are delivered. Opsdeck turns it off by itself after too many failures in a row (`disabled_reason` says so); `updateWebhook` with `active: true` turns it on again.
             * @example true
             */
            active: boolean;
            /**
             * @description Why the webhook is off, when it is.
             * @example disabled after 20 failed attempts in a row; the last one: HTTP 503
             */
            disabled_reason: string | null;
            /**
             * Format: date-time
             * @description When it was turned off, if it is.
             * @example 2026-11-21T10:30:00.000Z
             */
            disabled_at: string | null;
            /**
             * @description The last four characters of the signing secret, after an ellipsis.
             * @example …5b4a
             */
            secret_hint: string;
            /**
             * Format: int32
             * @description Failed delivery attempts since the last success.
             * @example 0
             */
            consecutive_failures: number;
            /**
             * Format: date-time
             * @description When the last delivery attempt was made, if any.
             * @example 2026-11-21T10:30:02.000Z
             */
            last_delivery_at: string | null;
            /**
             * Format: date-time
             * @description When it was registered.
             * @example 2026-11-20T09:00:00.000Z
             */
            created_at: string;
            /**
             * Format: date-time
             * @description When it last changed.
             * @example 2026-11-20T09:00:00.000Z
             */
            updated_at: string;
        };
        /**
         * WebhookListEnvelope
         * @description A page of webhooks, in the success envelope.
         */
        WebhookListEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            /** @description The items of this page. */
            data: components["schemas"]["Webhook"][];
            meta: components["schemas"]["Meta"];
            pagination: components["schemas"]["Pagination"];
        };
        /**
         * WebhookCreate
         * @description A new webhook. Give your own `secret` or leave it out to have one generated; either way the answer shows it this once.
         * @example {
         *       "url": "https://hooks.example.com/opsdeck",
         *       "events": [
         *         "alert.triggered",
         *         "task.failed"
         *       ],
         *       "description": "PagerDuty bridge for the on-call rota"
         *     }
         */
        WebhookCreate: {
            /**
             * Format: uri
             * @description Where deliveries are POSTed: an `https://` (or `http://`) URL whose host resolves to public addresses only; private, loopback and link-local targets are refused unless the server allows them (`WEBHOOK_ALLOW_PRIVATE_TARGETS`).
             * @example https://hooks.example.com/opsdeck
             */
            url: string;
            /**
             * @description The event types to deliver (at least one, each at most once).
             * @example [
             *       "alert.triggered",
             *       "task.failed"
             *     ]
             */
            events: components["schemas"]["EventType"][];
            /**
             * @description The key that signs deliveries (HMAC-SHA256), 24 to 256 printable characters; generated (`whsec_…`) when left out.
             * @example whsec_6f1d0c7b2a9e4f3d8c5b1a0e7d6c5b4a
             */
            secret?: string;
            /**
             * @description What the endpoint is for, for people.
             * @example PagerDuty bridge for the on-call rota
             */
            description?: string | null;
            /**
             * Format: uuid
             * @description The team whose events it receives; may be left out when the caller belongs to exactly one team.
             * @example 0192f0a0-0000-7000-8000-00000000000a
             */
            team_id?: string;
        };
        /**
         * WebhookCreated
         * @description The new webhook with its signing secret, which no later answer shows again.
         * @example {
         *       "id": "0192f3c0-2d4e-7f60-8a1b-2c3d4e5f6a7b",
         *       "team_id": "0192f0a0-0000-7000-8000-00000000000a",
         *       "url": "https://hooks.example.com/opsdeck",
         *       "events": [
         *         "alert.triggered",
         *         "task.failed"
         *       ],
         *       "description": "PagerDuty bridge for the on-call rota",
         *       "active": true,
         *       "disabled_reason": null,
         *       "disabled_at": null,
         *       "secret_hint": "…5b4a",
         *       "consecutive_failures": 0,
         *       "last_delivery_at": null,
         *       "created_at": "2026-11-20T09:00:00.000Z",
         *       "updated_at": "2026-11-20T09:00:00.000Z",
         *       "secret": "whsec_6f1d0c7b2a9e4f3d8c5b1a0e7d6c5b4a"
         *     }
         */
        WebhookCreated: components["schemas"]["Webhook"] & {
            /**
             * @description The signing secret: store it now, it is not shown again.
             * @example whsec_6f1d0c7b2a9e4f3d8c5b1a0e7d6c5b4a
             */
            secret: string;
        };
        /**
         * WebhookCreatedEnvelope
         * @description A new webhook with its secret, in the success envelope.
         */
        WebhookCreatedEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            data: components["schemas"]["WebhookCreated"];
            meta: components["schemas"]["Meta"];
        };
        /**
         * WebhookEnvelope
         * @description A webhook, in the success envelope.
         */
        WebhookEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            data: components["schemas"]["Webhook"];
            meta: components["schemas"]["Meta"];
        };
        /**
         * WebhookPatch
         * @description A JSON merge patch of a webhook: the fields given change, the others stay. `active: true` turns a disabled webhook on again and clears its failures; a new `secret` takes effect for the next delivery.
         * @example {
         *       "active": true
         *     }
         * @example {
         *       "events": [
         *         "alert.triggered",
         *         "alert.resolved",
         *         "task.failed"
         *       ]
         *     }
         */
        WebhookPatch: {
            /**
             * Format: uri
             * @description Where deliveries are POSTed: an `https://` (or `http://`) URL whose host resolves to public addresses only; private, loopback and link-local targets are refused unless the server allows them (`WEBHOOK_ALLOW_PRIVATE_TARGETS`).
             * @example https://hooks.example.com/opsdeck
             */
            url?: string;
            /**
             * @description The event types to deliver (at least one, each at most once).
             * @example [
             *       "alert.triggered",
             *       "task.failed"
             *     ]
             */
            events?: components["schemas"]["EventType"][];
            /**
             * @description What the endpoint is for, for people.
             * @example PagerDuty bridge for the on-call rota
             */
            description?: string | null;
            /**
             * @description Deliver events (`true`) or hold them back (`false`).
             * @example true
             */
            active?: boolean;
            /**
             * @description A new signing secret (rotation); it is not shown in answers.
             * @example whsec_6f1d0c7b2a9e4f3d8c5b1a0e7d6c5b4a
             */
            secret?: string;
        };
        /**
         * WebhookDeliveryStatus
         * @description Where a delivery stands: `pending` (waiting for its next attempt), `succeeded` (the endpoint answered 2xx) or `failed` (every attempt failed, or its webhook was disabled).
         * @example succeeded
         * @enum {string}
         */
        WebhookDeliveryStatus: "pending" | "succeeded" | "failed";
        /**
         * WebhookDelivery
         * @description One event on its way to one webhook, through as many attempts as it takes (retried with exponential backoff and jitter; see `x-webhook-delivery` in the spec).
         * @example {
         *       "id": "0192f3c4-9e8d-7c6b-8a59-4e3d2c1b0a99",
         *       "webhook_id": "0192f3c0-2d4e-7f60-8a1b-2c3d4e5f6a7b",
         *       "event_id": "0192f3c2-7a6b-7c5d-9e4f-3a2b1c0d9e8f",
         *       "event": "alert.triggered",
         *       "status": "succeeded",
         *       "attempt_count": 2,
         *       "next_attempt_at": null,
         *       "last_status_code": 200,
         *       "redelivery_of": null,
         *       "created_at": "2026-11-21T10:30:00.200Z",
         *       "completed_at": "2026-11-21T10:30:31.000Z"
         *     }
         */
        WebhookDelivery: {
            /**
             * Format: uuid
             * @description The delivery's id, sent as `X-Opsdeck-Delivery`.
             * @example 0192f3c4-9e8d-7c6b-8a59-4e3d2c1b0a99
             */
            id: string;
            /**
             * Format: uuid
             * @description The webhook it goes to.
             * @example 0192f3c0-2d4e-7f60-8a1b-2c3d4e5f6a7b
             */
            webhook_id: string;
            /**
             * Format: uuid
             * @description The event it carries (`id` of the body).
             * @example 0192f3c2-7a6b-7c5d-9e4f-3a2b1c0d9e8f
             */
            event_id: string;
            /**
             * @description The event type (`X-Opsdeck-Event`), or `webhook.ping` for a ping.
             * @example alert.triggered
             */
            event: string;
            status: components["schemas"]["WebhookDeliveryStatus"];
            /**
             * Format: int32
             * @description Attempts made so far.
             * @example 2
             */
            attempt_count: number;
            /**
             * Format: date-time
             * @description When the next attempt is due, while `pending`.
             * @example 2026-11-21T10:31:00.000Z
             */
            next_attempt_at: string | null;
            /**
             * Format: int32
             * @description The HTTP status of the last answer; null when there was none (timeout, refused connection) or no attempt yet.
             * @example 200
             */
            last_status_code: number | null;
            /**
             * Format: uuid
             * @description The delivery this one repeats, for a redelivery.
             * @example null
             */
            redelivery_of: string | null;
            /**
             * Format: date-time
             * @description When it was queued.
             * @example 2026-11-21T10:30:00.200Z
             */
            created_at: string;
            /**
             * Format: date-time
             * @description When it succeeded or finally failed.
             * @example 2026-11-21T10:30:31.000Z
             */
            completed_at: string | null;
        };
        /**
         * WebhookDeliveryEnvelope
         * @description A delivery, in the success envelope.
         */
        WebhookDeliveryEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            data: components["schemas"]["WebhookDelivery"];
            meta: components["schemas"]["Meta"];
        };
        /**
         * WebhookDeliveryListEnvelope
         * @description A page of deliveries, in the success envelope.
         */
        WebhookDeliveryListEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            /** @description The items of this page. */
            data: components["schemas"]["WebhookDelivery"][];
            meta: components["schemas"]["Meta"];
            pagination: components["schemas"]["Pagination"];
        };
        /**
         * TaskEvent
         * @description A task was created (`task.created`) or reached its end (`task.completed`, `task.failed`, `task.cancelled`); fleet tasks raise them as their children do.
         * @example {
         *       "id": "0192f3c2-7a6b-7c5d-9e4f-3a2b1c0d9e8f",
         *       "event": "task.completed",
         *       "timestamp": "2026-11-21T10:30:00.000Z",
         *       "team_id": "0192f0a0-0000-7000-8000-00000000000a",
         *       "data": {
         *         "id": "0192f1a0-1b2c-7d3e-8f40-5a6b7c8d9e0f",
         *         "team_id": "0192f0a0-0000-7000-8000-00000000000a",
         *         "agent_id": "0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d",
         *         "type": "reboot",
         *         "status": "succeeded",
         *         "progress": 100,
         *         "eta": "2026-11-21T10:32:00.000Z",
         *         "parameters": {
         *           "reason": "Kernel update 6.8.0-49"
         *         },
         *         "result": null,
         *         "error": null,
         *         "attempt": 1,
         *         "retry_of": null,
         *         "queued_offline": false,
         *         "created_by": "0192f0d2-1a2b-7c3d-8e4f-5a6b7c8d9e0f",
         *         "created_at": "2026-11-21T10:30:00.000Z",
         *         "updated_at": "2026-11-21T10:30:40.000Z",
         *         "started_at": "2026-11-21T10:30:05.000Z",
         *         "finished_at": null,
         *         "kind": "agent",
         *         "parent_id": null,
         *         "template_id": null,
         *         "template_version": null,
         *         "fleet": null
         *       }
         *     }
         */
        TaskEvent: {
            /**
             * Format: uuid
             * @description The event's id: the same event delivered twice (a retry, a redelivery, a resumed stream) has the same id, so consumers can drop duplicates.
             * @example 0192f3c2-7a6b-7c5d-9e4f-3a2b1c0d9e8f
             */
            id: string;
            /**
             * @description What happened.
             * @example task.completed
             * @enum {string}
             */
            event: "task.created" | "task.completed" | "task.failed" | "task.cancelled";
            /**
             * Format: date-time
             * @description When it happened (RFC 3339, UTC): the time of the change, not of the delivery.
             * @example 2026-11-21T10:30:00.000Z
             */
            timestamp: string;
            /**
             * Format: uuid
             * @description The team whose resource changed.
             * @example 0192f0a0-0000-7000-8000-00000000000a
             */
            team_id: string;
            /** @description The task as `getTask` answers it at the time of the event. */
            data: components["schemas"]["Task"];
        };
        /**
         * AlertEvent
         * @description An alert was raised, acknowledged or resolved.
         * @example {
         *       "id": "0192f3c2-7a6b-7c5d-9e4f-3a2b1c0d9e8f",
         *       "event": "alert.triggered",
         *       "timestamp": "2026-11-21T10:30:00.000Z",
         *       "team_id": "0192f0a0-0000-7000-8000-00000000000a",
         *       "data": {
         *         "id": "0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60",
         *         "team_id": "0192f0a0-0000-7000-8000-00000000000a",
         *         "agent_id": "0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d",
         *         "title": "Disk /var above 90%",
         *         "message": "/var is at 93% (46.5 of 50 GiB); it grew 4 GiB in the last hour.",
         *         "severity": "critical",
         *         "status": "open",
         *         "source": "prometheus",
         *         "fingerprint": "node_filesystem_avail:web-01:/var",
         *         "acknowledged_by": null,
         *         "acknowledged_at": null,
         *         "resolved_by": null,
         *         "resolved_at": null,
         *         "created_at": "2026-11-21T10:30:00.000Z",
         *         "updated_at": "2026-11-21T10:30:00.000Z"
         *       }
         *     }
         */
        AlertEvent: {
            /**
             * Format: uuid
             * @description The event's id: the same event delivered twice (a retry, a redelivery, a resumed stream) has the same id, so consumers can drop duplicates.
             * @example 0192f3c2-7a6b-7c5d-9e4f-3a2b1c0d9e8f
             */
            id: string;
            /**
             * @description What happened.
             * @example alert.triggered
             * @enum {string}
             */
            event: "alert.triggered" | "alert.acknowledged" | "alert.resolved";
            /**
             * Format: date-time
             * @description When it happened (RFC 3339, UTC): the time of the change, not of the delivery.
             * @example 2026-11-21T10:30:00.000Z
             */
            timestamp: string;
            /**
             * Format: uuid
             * @description The team whose resource changed.
             * @example 0192f0a0-0000-7000-8000-00000000000a
             */
            team_id: string;
            /** @description The alert as `getAlert` answers it at the time of the event. */
            data: components["schemas"]["Alert"];
        };
        /**
         * DeploymentEvent
         * @description A deployment was asked for (`deployment.created`), a rollback was asked for (`deployment.rollback_requested`), or a deployment reached its end (`deployment.finished`).
         * @example {
         *       "id": "0192f3c2-7a6b-7c5d-9e4f-3a2b1c0d9e8f",
         *       "event": "deployment.finished",
         *       "timestamp": "2026-11-21T10:30:00.000Z",
         *       "team_id": "0192f0a0-0000-7000-8000-00000000000a",
         *       "data": {
         *         "id": "0192f2b0-5c6d-7e8f-9a0b-1c2d3e4f5a6b",
         *         "team_id": "0192f0a0-0000-7000-8000-00000000000a",
         *         "service": "api-gateway",
         *         "version": "v1.2.3",
         *         "environment": "production",
         *         "status": "succeeded",
         *         "previous_version": "v1.2.2",
         *         "rollback_of": null,
         *         "reason": null,
         *         "requested_by": null,
         *         "started_at": "2026-11-21T10:30:05.000Z",
         *         "finished_at": "2026-11-21T10:32:05.000Z",
         *         "duration_seconds": 120,
         *         "created_by": "0192f0d2-1a2b-7c3d-8e4f-5a6b7c8d9e0f",
         *         "created_at": "2026-11-21T10:30:00.000Z",
         *         "updated_at": "2026-11-21T10:32:05.000Z"
         *       }
         *     }
         */
        DeploymentEvent: {
            /**
             * Format: uuid
             * @description The event's id: the same event delivered twice (a retry, a redelivery, a resumed stream) has the same id, so consumers can drop duplicates.
             * @example 0192f3c2-7a6b-7c5d-9e4f-3a2b1c0d9e8f
             */
            id: string;
            /**
             * @description What happened.
             * @example deployment.finished
             * @enum {string}
             */
            event: "deployment.created" | "deployment.rollback_requested" | "deployment.finished";
            /**
             * Format: date-time
             * @description When it happened (RFC 3339, UTC): the time of the change, not of the delivery.
             * @example 2026-11-21T10:30:00.000Z
             */
            timestamp: string;
            /**
             * Format: uuid
             * @description The team whose resource changed.
             * @example 0192f0a0-0000-7000-8000-00000000000a
             */
            team_id: string;
            /** @description The deployment as `getDeployment` answers it at the time of the event. */
            data: components["schemas"]["Deployment"];
        };
        /**
         * AgentEvent
         * @description An agent enrolled or went offline.
         * @example {
         *       "id": "0192f3c2-7a6b-7c5d-9e4f-3a2b1c0d9e8f",
         *       "event": "agent.offline",
         *       "timestamp": "2026-11-21T10:30:00.000Z",
         *       "team_id": "0192f0a0-0000-7000-8000-00000000000a",
         *       "data": {
         *         "id": "0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d",
         *         "team_id": "0192f0a0-0000-7000-8000-00000000000a",
         *         "hostname": "web-01.prod.example.com",
         *         "ip_address": "10.0.4.21",
         *         "platform": "linux",
         *         "os_version": "Ubuntu 24.04.1 LTS",
         *         "agent_version": "2.4.1",
         *         "status": "offline",
         *         "tags": [
         *           "production",
         *           "web"
         *         ],
         *         "last_seen": "2026-11-21T10:29:41.000Z",
         *         "created_at": "2026-11-02T08:15:00.000Z",
         *         "updated_at": "2026-11-20T17:02:12.000Z"
         *       }
         *     }
         */
        AgentEvent: {
            /**
             * Format: uuid
             * @description The event's id: the same event delivered twice (a retry, a redelivery, a resumed stream) has the same id, so consumers can drop duplicates.
             * @example 0192f3c2-7a6b-7c5d-9e4f-3a2b1c0d9e8f
             */
            id: string;
            /**
             * @description What happened.
             * @example agent.offline
             * @enum {string}
             */
            event: "agent.enrolled" | "agent.offline";
            /**
             * Format: date-time
             * @description When it happened (RFC 3339, UTC): the time of the change, not of the delivery.
             * @example 2026-11-21T10:30:00.000Z
             */
            timestamp: string;
            /**
             * Format: uuid
             * @description The team whose resource changed.
             * @example 0192f0a0-0000-7000-8000-00000000000a
             */
            team_id: string;
            /** @description The agent as `getAgent` answers it at the time of the event. */
            data: components["schemas"]["Agent"];
        };
        /**
         * PipelineEvent
         * @description A pipeline was changed (`pipeline.updated`).
         * @example {
         *       "id": "0192f3c2-7a6b-7c5d-9e4f-3a2b1c0d9e8f",
         *       "event": "pipeline.updated",
         *       "timestamp": "2026-11-21T11:05:00.000Z",
         *       "team_id": "0192f0a0-0000-7000-8000-00000000000a",
         *       "data": {
         *         "id": "0192f3a0-2b3c-7d4e-8f50-6a7b8c9d0e1f",
         *         "team_id": "0192f0a0-0000-7000-8000-00000000000a",
         *         "name": "api-gateway build",
         *         "repository": "github.com/opsdeck/api-gateway",
         *         "branch": "main",
         *         "status": "paused",
         *         "last_run_status": "succeeded",
         *         "created_at": "2026-11-21T10:30:00.000Z",
         *         "updated_at": "2026-11-21T11:05:00.000Z"
         *       }
         *     }
         */
        PipelineEvent: {
            /**
             * Format: uuid
             * @description The event's id: the same event delivered twice (a retry, a redelivery, a resumed stream) has the same id, so consumers can drop duplicates.
             * @example 0192f3c2-7a6b-7c5d-9e4f-3a2b1c0d9e8f
             */
            id: string;
            /**
             * @description What happened.
             * @example pipeline.updated
             * @enum {string}
             */
            event: "pipeline.updated";
            /**
             * Format: date-time
             * @description When it happened (RFC 3339, UTC): the time of the change, not of the delivery.
             * @example 2026-11-21T10:30:00.000Z
             */
            timestamp: string;
            /**
             * Format: uuid
             * @description The team whose resource changed.
             * @example 0192f0a0-0000-7000-8000-00000000000a
             */
            team_id: string;
            /** @description The pipeline as `getPipeline` answers it at the time of the event. */
            data: components["schemas"]["Pipeline"];
        };
        /**
         * PipelineRunEvent
         * @description A run of a pipeline started (`pipeline.run.started`) or ended (`pipeline.run.completed`, with its `status`).
         * @example {
         *       "id": "0192f3c2-7a6b-7c5d-9e4f-3a2b1c0d9e8f",
         *       "event": "pipeline.run.completed",
         *       "timestamp": "2026-11-21T11:05:00.000Z",
         *       "team_id": "0192f0a0-0000-7000-8000-00000000000a",
         *       "data": {
         *         "id": "0192f3b1-3c4d-7e5f-8a61-7b8c9d0e1f2a",
         *         "pipeline_id": "0192f3a0-2b3c-7d4e-8f50-6a7b8c9d0e1f",
         *         "team_id": "0192f0a0-0000-7000-8000-00000000000a",
         *         "number": 42,
         *         "status": "succeeded",
         *         "commit_sha": "9fceb02d0ae598e95dc970b74767f19372d61af8",
         *         "started_at": "2026-11-21T11:02:05.000Z",
         *         "finished_at": "2026-11-21T11:05:00.000Z",
         *         "duration_seconds": 175,
         *         "created_by": "0192f0d2-1a2b-7c3d-8e4f-5a6b7c8d9e0f",
         *         "created_at": "2026-11-21T11:02:00.000Z"
         *       }
         *     }
         */
        PipelineRunEvent: {
            /**
             * Format: uuid
             * @description The event's id: the same event delivered twice (a retry, a redelivery, a resumed stream) has the same id, so consumers can drop duplicates.
             * @example 0192f3c2-7a6b-7c5d-9e4f-3a2b1c0d9e8f
             */
            id: string;
            /**
             * @description What happened.
             * @example pipeline.run.completed
             * @enum {string}
             */
            event: "pipeline.run.started" | "pipeline.run.completed";
            /**
             * Format: date-time
             * @description When it happened (RFC 3339, UTC): the time of the change, not of the delivery.
             * @example 2026-11-21T10:30:00.000Z
             */
            timestamp: string;
            /**
             * Format: uuid
             * @description The team whose resource changed.
             * @example 0192f0a0-0000-7000-8000-00000000000a
             */
            team_id: string;
            /** @description The run as `getPipelineRun` answers it at the time of the event. */
            data: components["schemas"]["PipelineRun"];
        };
        /**
         * StreamEvent
         * @description An event as the live stream and webhooks carry it: `{ id, event, timestamp, team_id, data }`, where `data` is the resource that changed, as its `get…` operation answers it. In the stream it is the `data:` line of a message whose `event:` is the event type and whose `id:` is the stream position to resume from.
         * @example {
         *       "id": "0192f3c2-7a6b-7c5d-9e4f-3a2b1c0d9e8f",
         *       "event": "alert.triggered",
         *       "timestamp": "2026-11-21T10:30:00.000Z",
         *       "team_id": "0192f0a0-0000-7000-8000-00000000000a",
         *       "data": {
         *         "id": "0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60",
         *         "team_id": "0192f0a0-0000-7000-8000-00000000000a",
         *         "agent_id": "0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d",
         *         "title": "Disk /var above 90%",
         *         "message": "/var is at 93% (46.5 of 50 GiB); it grew 4 GiB in the last hour.",
         *         "severity": "critical",
         *         "status": "open",
         *         "source": "prometheus",
         *         "fingerprint": "node_filesystem_avail:web-01:/var",
         *         "acknowledged_by": null,
         *         "acknowledged_at": null,
         *         "resolved_by": null,
         *         "resolved_at": null,
         *         "created_at": "2026-11-21T10:30:00.000Z",
         *         "updated_at": "2026-11-21T10:30:00.000Z"
         *       }
         *     }
         */
        StreamEvent: components["schemas"]["TaskEvent"] | components["schemas"]["AlertEvent"] | components["schemas"]["DeploymentEvent"] | components["schemas"]["AgentEvent"] | components["schemas"]["PipelineEvent"] | components["schemas"]["PipelineRunEvent"];
        /**
         * WebhookPing
         * @description What `pingWebhook` sends: proof that the endpoint is reachable and checks signatures. It carries no resource.
         * @example {
         *       "webhook_id": "0192f3c0-2d4e-7f60-8a1b-2c3d4e5f6a7b",
         *       "message": "Ping from Opsdeck: this endpoint receives the events of its webhook."
         *     }
         */
        WebhookPing: {
            /**
             * Format: uuid
             * @description The webhook being pinged.
             * @example 0192f3c0-2d4e-7f60-8a1b-2c3d4e5f6a7b
             */
            webhook_id: string;
            /**
             * @description A fixed greeting.
             * @example Ping from Opsdeck: this endpoint receives the events of its webhook.
             */
            message: string;
        };
        /**
         * WebhookPingEvent
         * @description The body of a ping (`webhook.ping`), sent only to the webhook pinged.
         * @example {
         *       "id": "0192f3c2-7a6b-7c5d-9e4f-3a2b1c0d9e8f",
         *       "event": "webhook.ping",
         *       "timestamp": "2026-11-21T10:30:00.000Z",
         *       "team_id": "0192f0a0-0000-7000-8000-00000000000a",
         *       "data": {
         *         "webhook_id": "0192f3c0-2d4e-7f60-8a1b-2c3d4e5f6a7b",
         *         "message": "Ping from Opsdeck: this endpoint receives the events of its webhook."
         *       }
         *     }
         */
        WebhookPingEvent: {
            /**
             * Format: uuid
             * @description The event's id: the same event delivered twice (a retry, a redelivery, a resumed stream) has the same id, so consumers can drop duplicates.
             * @example 0192f3c2-7a6b-7c5d-9e4f-3a2b1c0d9e8f
             */
            id: string;
            /**
             * @description What happened.
             * @example webhook.ping
             * @enum {string}
             */
            event: "webhook.ping";
            /**
             * Format: date-time
             * @description When it happened (RFC 3339, UTC): the time of the change, not of the delivery.
             * @example 2026-11-21T10:30:00.000Z
             */
            timestamp: string;
            /**
             * Format: uuid
             * @description The team whose resource changed.
             * @example 0192f0a0-0000-7000-8000-00000000000a
             */
            team_id: string;
            /** @description Which webhook is pinged. */
            data: components["schemas"]["WebhookPing"];
        };
        /**
         * WebhookDeliveryAttempt
         * @description One try of a delivery: what the endpoint answered and how long it took.
         * @example {
         *       "number": 1,
         *       "attempted_at": "2026-11-21T10:30:00.300Z",
         *       "status_code": 503,
         *       "latency_ms": 87,
         *       "response_excerpt": "upstream unavailable",
         *       "error": null,
         *       "succeeded": false
         *     }
         */
        WebhookDeliveryAttempt: {
            /**
             * Format: int32
             * @description Its place among the delivery's attempts, from 1.
             * @example 1
             */
            number: number;
            /**
             * Format: date-time
             * @description When the request was sent.
             * @example 2026-11-21T10:30:00.300Z
             */
            attempted_at: string;
            /**
             * Format: int32
             * @description The HTTP status answered, or null when none came.
             * @example 503
             */
            status_code: number | null;
            /**
             * Format: int32
             * @description Milliseconds from sending the request to the end of the answer (or to the failure).
             * @example 87
             */
            latency_ms: number;
            /**
             * @description The start of the answer's body (at most 1 KiB, as text).
             * @example upstream unavailable
             */
            response_excerpt: string | null;
            /**
             * @description Why no answer counted, when none came: a timeout, a refused connection, a refused target address.
             * @example timed out after 10000 ms
             */
            error: string | null;
            /**
             * @description Whether this attempt delivered the event (2xx).
             * @example false
             */
            succeeded: boolean;
        };
        /**
         * WebhookDeliveryDetail
         * @description A delivery with the body it sends and every attempt so far.
         * @example {
         *       "id": "0192f3c4-9e8d-7c6b-8a59-4e3d2c1b0a99",
         *       "webhook_id": "0192f3c0-2d4e-7f60-8a1b-2c3d4e5f6a7b",
         *       "event_id": "0192f3c2-7a6b-7c5d-9e4f-3a2b1c0d9e8f",
         *       "event": "alert.triggered",
         *       "status": "succeeded",
         *       "attempt_count": 2,
         *       "next_attempt_at": null,
         *       "last_status_code": 200,
         *       "redelivery_of": null,
         *       "created_at": "2026-11-21T10:30:00.200Z",
         *       "completed_at": "2026-11-21T10:30:31.000Z",
         *       "payload": {
         *         "id": "0192f3c2-7a6b-7c5d-9e4f-3a2b1c0d9e8f",
         *         "event": "alert.triggered",
         *         "timestamp": "2026-11-21T10:30:00.000Z",
         *         "team_id": "0192f0a0-0000-7000-8000-00000000000a",
         *         "data": {
         *           "id": "0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60",
         *           "team_id": "0192f0a0-0000-7000-8000-00000000000a",
         *           "agent_id": "0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d",
         *           "title": "Disk /var above 90%",
         *           "message": "/var is at 93% (46.5 of 50 GiB); it grew 4 GiB in the last hour.",
         *           "severity": "critical",
         *           "status": "open",
         *           "source": "prometheus",
         *           "fingerprint": "node_filesystem_avail:web-01:/var",
         *           "acknowledged_by": null,
         *           "acknowledged_at": null,
         *           "resolved_by": null,
         *           "resolved_at": null,
         *           "created_at": "2026-11-21T10:30:00.000Z",
         *           "updated_at": "2026-11-21T10:30:00.000Z"
         *         }
         *       },
         *       "attempts": [
         *         {
         *           "number": 1,
         *           "attempted_at": "2026-11-21T10:30:00.300Z",
         *           "status_code": 503,
         *           "latency_ms": 87,
         *           "response_excerpt": "upstream unavailable",
         *           "error": null,
         *           "succeeded": false
         *         },
         *         {
         *           "number": 2,
         *           "attempted_at": "2026-11-21T10:30:30.900Z",
         *           "status_code": 200,
         *           "latency_ms": 64,
         *           "response_excerpt": "{\"ok\":true}",
         *           "error": null,
         *           "succeeded": true
         *         }
         *       ]
         *     }
         */
        WebhookDeliveryDetail: components["schemas"]["WebhookDelivery"] & {
            /** @description The JSON body POSTed to the endpoint (a `StreamEvent` or a `WebhookPingEvent`). */
            payload: components["schemas"]["StreamEvent"] | components["schemas"]["WebhookPingEvent"];
            /** @description The attempts, oldest first. */
            attempts: components["schemas"]["WebhookDeliveryAttempt"][];
        };
        /**
         * WebhookDeliveryDetailEnvelope
         * @description A delivery with its payload and attempts, in the success envelope.
         */
        WebhookDeliveryDetailEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            data: components["schemas"]["WebhookDeliveryDetail"];
            meta: components["schemas"]["Meta"];
        };
        /**
         * EventChannel
         * @description A channel of the live event stream (`streamEvents`): the events of one kind of resource. A caller receives a channel only with the read permission it names (`x-permission`), and only its teams' events.
         * @example alerts
         */
        EventChannel: string & ("tasks" | "alerts" | "agents" | "deployments" | "pipelines");
        /**
         * EventSocketClientMessage
         * @description A message a client sends on the live WebSocket (`openEventSocket`), one JSON object per text frame, told apart by `type`. The first must be `auth`; `subscribe` and `unsubscribe` change the channels received; `ping` asks for a `pong` (for clients that cannot send WebSocket ping frames). A message that is not JSON, is larger than `x-event-stream.max_message_bytes` or matches none of these is answered with an `error`.
         * @example {
         *       "type": "auth",
         *       "token": "opk_a1b2c3d4_Zx8fQ2mN7pL4vR9sT1wY6uE3"
         *     }
         * @example {
         *       "type": "subscribe",
         *       "channels": [
         *         "alerts",
         *         "deployments"
         *       ],
         *       "last_event_id": "1842"
         *     }
         * @example {
         *       "type": "unsubscribe",
         *       "channels": [
         *         "deployments"
         *       ]
         *     }
         */
        EventSocketClientMessage: {
            /**
             * @description Always `auth`.
             * @constant
             */
            type: "auth";
            /** @description An access token from `login` or `refreshToken`, or an API key from `createApiKey`. */
            token: string;
        } | {
            /**
             * @description Always `subscribe`.
             * @constant
             */
            type: "subscribe";
            /** @description The channels to receive. */
            channels: components["schemas"]["EventChannel"][];
            /** @description Resume after this stream position: the `id` of the last `event` message received (on this socket or an earlier one). */
            last_event_id?: string;
            /**
             * Format: uuid
             * @description Only this team's events (one of the caller's teams; another team's finds nothing).
             */
            team_id?: string;
        } | {
            /**
             * @description Always `unsubscribe`.
             * @constant
             */
            type: "unsubscribe";
            /** @description The channels to stop receiving. */
            channels: components["schemas"]["EventChannel"][];
        } | {
            /**
             * @description Always `ping`.
             * @constant
             */
            type: "ping";
        };
        /**
         * EventSocketServerMessage
         * @description A message the server sends on the live WebSocket (`openEventSocket`), one JSON object per text frame, told apart by `type`. A consumer should ignore a `type` it does not know.
         * @example {
         *       "type": "authenticated",
         *       "channels": [
         *         "tasks",
         *         "alerts",
         *         "agents",
         *         "deployments"
         *       ],
         *       "expires_at": "2026-11-21T10:45:00.000Z"
         *     }
         * @example {
         *       "type": "subscribed",
         *       "channels": [
         *         "alerts"
         *       ]
         *     }
         * @example {
         *       "type": "error",
         *       "code": "PERM_DENIED",
         *       "message": "The channel deployments requires the permission deployments:read",
         *       "channel": "deployments"
         *     }
         */
        EventSocketServerMessage: {
            /**
             * @description Always `authenticated`.
             * @constant
             */
            type: "authenticated";
            /** @description The channels this credential may subscribe to. */
            channels: components["schemas"]["EventChannel"][];
            /**
             * Format: date-time
             * @description When the credential expires and the socket closes (`4401`), or `null` when it does not.
             */
            expires_at: string | null;
        } | {
            /**
             * @description Always `subscribed`.
             * @constant
             */
            type: "subscribed";
            /** @description Every channel the socket receives now. */
            channels: components["schemas"]["EventChannel"][];
        } | {
            /**
             * @description Always `unsubscribed`.
             * @constant
             */
            type: "unsubscribed";
            /** @description Every channel the socket still receives. */
            channels: components["schemas"]["EventChannel"][];
        } | {
            /**
             * @description Always `event`.
             * @constant
             */
            type: "event";
            /** @description The stream position; a duplicate across a reconnect has the same `id`. */
            id: string;
            channel: components["schemas"]["EventChannel"];
            event: components["schemas"]["EventType"];
            data: components["schemas"]["StreamEvent"];
        } | {
            /**
             * @description Always `error`.
             * @constant
             */
            type: "error";
            code: components["schemas"]["ErrorCode"];
            /** @description What went wrong, for people. */
            message: string;
            channel?: components["schemas"]["EventChannel"];
        } | {
            /**
             * @description Always `pong`.
             * @constant
             */
            type: "pong";
        };
        /**
         * VersionInfo
         * @description What is running.
         * @example {
         *       "name": "opsdeck",
         *       "version": "0.1.0",
         *       "api_version": "3.0.0",
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
             * @example 3.0.0
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
        /**
         * ApiIndex
         * @description The front door (`getIndex`): what this server is, and where its parts are.
         * @example {
         *       "name": "opsdeck",
         *       "version": "0.1.0",
         *       "api_version": "3.0.0",
         *       "links": {
         *         "docs": "/docs",
         *         "openapi_json": "/openapi.json",
         *         "openapi_yaml": "/openapi.yaml",
         *         "asyncapi_json": "/asyncapi.json",
         *         "api_v1": "/api/v1",
         *         "api_v2": "/api/v2",
         *         "health_live": "/health/live",
         *         "health_ready": "/health/ready",
         *         "metrics": "/metrics",
         *         "version": "/api/v1/system/version"
         *       }
         *     }
         */
        ApiIndex: {
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
             * @example 3.0.0
             */
            api_version: string;
            /** @description Where to go next, as paths on this server. */
            links: {
                /**
                 * @description The API docs (Redoc), for people.
                 * @example /docs
                 */
                docs: string;
                /**
                 * @description The contract, as JSON (OpenAPI 3.1).
                 * @example /openapi.json
                 */
                openapi_json: string;
                /**
                 * @description The contract, as YAML.
                 * @example /openapi.yaml
                 */
                openapi_yaml: string;
                /**
                 * @description The live WebSocket's protocol (`openEventSocket`), as JSON (AsyncAPI 3).
                 * @example /asyncapi.json
                 */
                asyncapi_json: string;
                /**
                 * @description The base of version 1 of the API.
                 * @example /api/v1
                 */
                api_v1: string;
                /**
                 * @description The base of version 2 of the API.
                 * @example /api/v2
                 */
                api_v2: string;
                /**
                 * @description Liveness (`getLiveness`).
                 * @example /health/live
                 */
                health_live: string;
                /**
                 * @description Readiness (`getReadiness`).
                 * @example /health/ready
                 */
                health_ready: string;
                /**
                 * @description Prometheus metrics (`getMetrics`).
                 * @example /metrics
                 */
                metrics: string;
                /**
                 * @description The version of this server (`getSystemVersion`).
                 * @example /api/v1/system/version
                 */
                version: string;
            };
        };
        /**
         * ApiIndexEnvelope
         * @description The front door, in the success envelope.
         */
        ApiIndexEnvelope: {
            /**
             * @description Always `true` on success.
             * @constant
             */
            success: true;
            data: components["schemas"]["ApiIndex"];
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
        /**
         * @description The operation was deprecated and its sunset date (`x-sunset`, the `Sunset` header) has passed: it is
         *     removed and does nothing. Move to its successor, which `Link` names with `rel="successor-version"`.
         *     Credentials are not looked at; the answer spends from the client address's rate-limit bucket.
         */
        Gone: {
            headers: {
                "X-Request-ID": components["headers"]["XRequestId"];
                "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                Deprecation: components["headers"]["Deprecation"];
                Sunset: components["headers"]["Sunset"];
                Link: components["headers"]["SuccessorLink"];
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
        /** @description The `Range` starts beyond the end of the file; `Content-Range` gives its size. */
        RangeNotSatisfiable: {
            headers: {
                "X-Request-ID": components["headers"]["XRequestId"];
                "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                "Content-Range": components["headers"]["ContentRange"];
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
         * @description An HTTP date, usually the `Last-Modified` of a representation you hold: the answer is `304 Not Modified`
         *     (no body) unless the resource changed after it (to the second, as HTTP dates go). Ignored when
         *     `If-None-Match` is sent (the more precise check), when the value is not an HTTP date, and when the request
         *     carries `Cache-Control: no-cache`, which `fetch()` adds to a request with a conditional header unless you set
         *     `Cache-Control` yourself (e.g. `max-age=0`).
         * @example Fri, 20 Nov 2026 17:02:12 GMT
         */
        IfModifiedSince: string;
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
         * @description Order: comma-separated `field:direction` pairs over `name`, `created_at`; ties broken by `id`. Default `name:asc`. Each field may appear once; a repeated field is refused with 400.
         * @example name:asc
         */
        TeamSort: string;
        /**
         * @description Only teams whose name contains this text (any case). Reserved characters may be sent unencoded (`allowReserved`), and `+` stands for a space, as HTML forms and `URLSearchParams` encode one.
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
         * @description Order: comma-separated `field:direction` pairs over `email`, `name`, `role`, `created_at`; ties broken by `id`. Default `created_at:desc`. Each field may appear once; a repeated field is refused with 400.
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
         * @description Only users whose email or name contains this text (any case). Reserved characters may be sent unencoded (`allowReserved`), and `+` stands for a space, as HTML forms and `URLSearchParams` encode one.
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
         *     Each field may appear once; a repeated field is refused with 400.
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
         * @description Only agents whose hostname contains this text (any case) or whose address starts with it. Reserved characters may be sent unencoded (`allowReserved`), and `+` stands for a space, as HTML forms and `URLSearchParams` encode one.
         * @example web-
         */
        AgentSearch: string;
        /**
         * @description Only agents that belong to this agent group (one of the caller's teams'; any other finds nothing).
         * @example 0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60
         */
        GroupIdFilter: string;
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
         * @description Trims every item to these fields (comma-separated); `id` is always kept.
         * @example [
         *       "id",
         *       "type",
         *       "status"
         *     ]
         */
        TaskFieldsParam: ("id" | "team_id" | "agent_id" | "kind" | "parent_id" | "template_id" | "template_version" | "fleet" | "type" | "status" | "progress" | "eta" | "parameters" | "result" | "error" | "attempt" | "retry_of" | "queued_offline" | "created_by" | "created_at" | "updated_at" | "started_at" | "finished_at")[];
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
         * @description Only tasks of this kind: `fleet` for fleet-wide tasks, `agent` for agents' tasks (children included).
         * @example fleet
         */
        TaskKindFilter: components["schemas"]["TaskKind"];
        /**
         * @description Only the children of this fleet task.
         * @example 0192f1a0-1b2c-7d3e-8f40-5a6b7c8d9e0f
         */
        ParentIdFilter: string;
        /**
         * @description Order: comma-separated `field:direction` pairs over `name`, `created_at`; ties broken by `id`. Default `name:asc`. Each field may appear once; a repeated field is refused with 400.
         * @example name:asc
         */
        AgentGroupSort: string;
        /**
         * @description Trims every item to these fields (comma-separated); `id` is always kept.
         * @example [
         *       "id",
         *       "name"
         *     ]
         */
        AgentGroupFieldsParam: ("id" | "team_id" | "name" | "description" | "agent_count" | "created_at" | "updated_at")[];
        /**
         * @description Only groups whose name contains this text (any case). Reserved characters may be sent unencoded (`allowReserved`), and `+` stands for a space, as HTML forms and `URLSearchParams` encode one.
         * @example web
         */
        AgentGroupSearch: string;
        /**
         * @description The agent group's id.
         * @example 0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60
         */
        AgentGroupId: string;
        /**
         * @description Only tasks of this agent.
         * @example 0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d
         */
        AgentIdFilter: string;
        /**
         * @description Order: comma-separated `field:direction` pairs over `name`, `created_at`; ties broken by `id`. Default `name:asc`. Each field may appear once; a repeated field is refused with 400.
         * @example name:asc
         */
        TaskScheduleSort: string;
        /**
         * @description Trims every item to these fields (comma-separated); `id` is always kept.
         * @example [
         *       "id",
         *       "name",
         *       "next_runs"
         *     ]
         */
        TaskScheduleFieldsParam: ("id" | "team_id" | "name" | "description" | "cron" | "timezone" | "enabled" | "missed_runs" | "run" | "next_runs" | "last_execution" | "created_by" | "created_at" | "updated_at")[];
        /**
         * @description Only enabled (`true`) or disabled (`false`) schedules.
         * @example true
         */
        TaskScheduleEnabledFilter: boolean;
        /**
         * @description The schedule's id.
         * @example 0192f3c0-5d6e-7f80-9a1b-2c3d4e5f6a7b
         */
        TaskScheduleId: string;
        /**
         * @description Order by due time: `due_at:desc` (the default, latest first) or `due_at:asc`.
         * @example due_at:desc
         */
        TaskScheduleExecutionSort: "due_at:desc" | "due_at:asc";
        /**
         * @description Only executions that ended this way.
         * @example failed
         */
        TaskScheduleExecutionStatusFilter: components["schemas"]["TaskScheduleExecutionStatus"];
        /**
         * @description The task's id.
         * @example 0192f1a0-1b2c-7d3e-8f40-5a6b7c8d9e0f
         */
        TaskId: string;
        /**
         * @description The artifact's id.
         * @example 0192f1b0-4d5e-7f60-8a1b-2c3d4e5f6a7b
         */
        ArtifactId: string;
        /**
         * @description One byte range of the file (RFC 9110): `bytes=0-1023` (the first KiB), `bytes=1024-` (from byte 1024 on) or
         *     `bytes=-512` (the last 512 bytes). A satisfiable range is answered `206` with `Content-Range`; one that starts
         *     beyond the end, `416`. Several ranges, or a value that is not a byte range, get the whole file (`200`).
         * @example bytes=0-1023
         */
        Range: string;
        /**
         * @description The `ETag` of the file you hold part of; `Range` applies only while it is current, else the whole file is sent (`200`).
         * @example "n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg"
         */
        IfRange: string;
        /**
         * @description Order: comma-separated `field:direction` pairs over `name`, `created_at`, `updated_at`; ties broken by `id`. Default `name:asc`. Each field may appear once; a repeated field is refused with 400.
         * @example name:asc
         */
        TaskTemplateSort: string;
        /**
         * @description Trims every item to these fields (comma-separated); `id` is always kept.
         * @example [
         *       "id",
         *       "name",
         *       "version"
         *     ]
         */
        TaskTemplateFieldsParam: ("id" | "team_id" | "name" | "description" | "action" | "defaults" | "parameters_schema" | "version" | "created_at" | "updated_at")[];
        /**
         * @description Only templates whose name contains this text (any case). Reserved characters may be sent unencoded (`allowReserved`), and `+` stands for a space, as HTML forms and `URLSearchParams` encode one.
         * @example restart
         */
        TaskTemplateSearch: string;
        /**
         * @description Only templates of this action.
         * @example command
         */
        TaskTemplateActionFilter: components["schemas"]["TaskType"];
        /**
         * @description The task template's id.
         * @example 0193a1c0-7d2e-7f10-9a4b-5c6d7e8f9a01
         */
        TaskTemplateId: string;
        /**
         * @description Order: `version:desc` (the default, newest first) or `version:asc`.
         * @example version:desc
         */
        TaskTemplateVersionSort: "version:asc" | "version:desc";
        /**
         * @description The enrollment token's id.
         * @example 0192f1b0-2c3d-7e4f-8a50-6b7c8d9e0f1a
         */
        EnrollmentTokenId: string;
        /**
         * @description The file name to store the upload under, unique within the task (`ArtifactName`), percent-encoded (reserved characters such as `(` and `)` may stay as they are).
         * @example reboot.log
         */
        ArtifactNameQuery: components["schemas"]["ArtifactName"];
        /**
         * @description Order by `name` (default `name:asc`), `asc` or `desc`; packages of the same name keep the order the agent reported them in (reversed for `desc`).
         * @example name:asc
         */
        PackageSort: string;
        /**
         * @description Only packages whose name contains this text (any case). Reserved characters may be sent unencoded (`allowReserved`), and `+` stands for a space, as HTML forms and `URLSearchParams` encode one.
         * @example ssl
         */
        PackageSearch: string;
        /**
         * @description Only packages with exactly this name.
         * @example openssl
         */
        PackageNameFilter: components["schemas"]["PackageName"];
        /**
         * @description Only packages whose installed version is greater than this one. Versions compare by their runs of digits,
         *     as numbers, from left to right; everything else in them is ignored (`1.20.1` > `1.9.9`, `2.0` < `2.0.1`).
         * @example 3.0.2
         */
        PackageVersionGt: string;
        /**
         * @description Only packages whose installed version is less than this one, compared as for `version_gt`.
         * @example 3.0.14
         */
        PackageVersionLt: string;
        /**
         * @description Only packages with (`true`) or without (`false`) a newer version available.
         * @example true
         */
        PackageHasUpdate: boolean;
        /**
         * @description Order by `name` (default `name:asc`) or `state`, `asc` or `desc`; ties broken by name.
         * @example state:asc
         */
        SystemServiceSort: string;
        /**
         * @description Only services in this state.
         * @example failed
         */
        SystemServiceStateFilter: components["schemas"]["SystemServiceState"];
        /**
         * @description The metric.
         * @example cpu_usage
         */
        MetricNameParam: components["schemas"]["MetricName"];
        /**
         * @description The start of the range, inclusive (RFC 3339). The range may span at most 31 days.
         * @example 2026-11-21T10:00:00Z
         */
        MetricStartDate: string;
        /**
         * @description The end of the range, exclusive (RFC 3339); after `start_date`.
         * @example 2026-11-21T11:00:00Z
         */
        MetricEndDate: string;
        /**
         * @description The width of a bucket (default `5m`). A range may touch at most 1,440 buckets (a day of `1m` from a whole minute, five days of
         *     `5m`, fifteen of `15m`, 31 of `1h` or `1d`); more is refused with 400.
         * @example 5m
         */
        MetricBucketParam: components["schemas"]["MetricBucket"];
        /**
         * @description How the samples of a bucket are combined (default `avg`).
         * @example avg
         */
        MetricAggregateParam: components["schemas"]["MetricAggregate"];
        /**
         * @description Order of the list: comma-separated `field:direction` pairs, most significant first. Sortable fields: `name`,
         *     `hostname`; directions `asc` and `desc`. Ties are broken by an internal id. Default `name:asc,hostname:asc`.
         *     Each field may appear once; a repeated field is refused with 400.
         * @example hostname:asc
         */
        FleetPackageSort: string;
        /**
         * @description Order of the list: comma-separated `field:direction` pairs, most significant first. Sortable fields: `agents`
         *     (how many agents are affected), `name`; directions `asc` and `desc`. Default `agents:desc,name:asc`.
         *     Each field may appear once; a repeated field is refused with 400.
         * @example agents:desc,name:asc
         */
        PackageUpdateSort: string;
        /**
         * @description Order: comma-separated `field:direction` pairs over `name`, `created_at`, `updated_at`; ties broken by `id`. Default `name:asc`. Each field may appear once; a repeated field is refused with 400.
         * @example updated_at:desc
         */
        DashboardSort: string;
        /**
         * @description Only dashboards whose name contains this text (any case). Reserved characters may be sent unencoded (`allowReserved`), and `+` stands for a space, as HTML forms and `URLSearchParams` encode one.
         * @example fleet
         */
        DashboardSearch: string;
        /**
         * @description The dashboard's id.
         * @example 0192f3c0-1a2b-7c3d-8e4f-5a6b7c8d9e0f
         */
        DashboardId: string;
        /**
         * @description Order of the list: comma-separated `field:direction` pairs, most significant first. Sortable fields: `severity`
         *     (`unknown` < `low` < `medium` < `high` < `critical`), `hostname`, `name` (the package's), `advisory_id`;
         *     directions `asc` and `desc`. Default `severity:desc,hostname:asc,name:asc`. Each field may appear once; a
         *     repeated field is refused with 400.
         * @example severity:desc,hostname:asc
         */
        PackageVulnerabilitySort: string;
        /**
         * @description Only vulnerabilities of this severity.
         * @example critical
         */
        VulnerabilitySeverityFilter: components["schemas"]["VulnerabilitySeverity"];
        /**
         * @description Only vulnerabilities of the advisory with this id or alias (`DSA-5532-1`, `CVE-2023-5678`).
         * @example CVE-2023-5678
         */
        AdvisoryIdFilter: string;
        /**
         * @description Only packages of this ecosystem, exactly as stored (`Debian:12`, `npm`).
         * @example Debian:12
         */
        EcosystemFilter: components["schemas"]["PackageEcosystem"];
        /**
         * @description Only vulnerable packages of this agent.
         * @example 0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d
         */
        VulnerabilityAgentIdFilter: string;
        /**
         * @description Order by `created_at` (default `created_at:desc`) or `updated_at`, `asc` or `desc`; ties broken by `id`.
         * @example created_at:desc
         */
        DeploymentSort: string;
        /**
         * @description Trims every item to these fields (comma-separated); `id` is always kept.
         * @example [
         *       "id",
         *       "service",
         *       "status"
         *     ]
         */
        DeploymentFieldsParam: ("id" | "team_id" | "service" | "version" | "environment" | "status" | "previous_version" | "rollback_of" | "reason" | "requested_by" | "started_at" | "finished_at" | "duration_seconds" | "created_by" | "created_at" | "updated_at")[];
        /**
         * @description Only deployments to this environment.
         * @example production
         */
        EnvironmentFilter: components["schemas"]["DeploymentEnvironment"];
        /**
         * @description Only deployments in this status.
         * @example failed
         */
        DeploymentStatusFilter: components["schemas"]["DeploymentStatus"];
        /**
         * @description Only deployments of this service (exact name).
         * @example api-gateway
         */
        ServiceFilter: components["schemas"]["ServiceName"];
        /**
         * @description The deployment's id.
         * @example 0192f2b0-5c6d-7e8f-9a0b-1c2d3e4f5a6b
         */
        DeploymentId: string;
        /**
         * @description Comma-separated `field:direction` keys over `name`, `status`, `created_at` and `updated_at` (default `created_at:desc`); ties broken by `id`. Each field may appear once; a repeated field is refused with 400.
         * @example name:asc
         */
        PipelineSort: string;
        /**
         * @description Trims every item to these fields (comma-separated); `id` is always kept.
         * @example [
         *       "id",
         *       "name",
         *       "status"
         *     ]
         */
        PipelineFieldsParam: ("id" | "team_id" | "name" | "repository" | "branch" | "status" | "last_run_status" | "created_at" | "updated_at")[];
        /**
         * @description Only pipelines in this status.
         * @example active
         */
        PipelineStatusFilter: components["schemas"]["PipelineStatus"];
        /**
         * @description Only pipelines whose name or repository contains this text (any case). Reserved characters may be sent unencoded (`allowReserved`), and `+` stands for a space, as HTML forms and `URLSearchParams` encode one.
         * @example gateway
         */
        PipelineSearch: string;
        /**
         * @description The pipeline's id.
         * @example 0192f3a0-2b3c-7d4e-8f50-6a7b8c9d0e1f
         */
        PipelineId: string;
        /**
         * @description Order by `number` (default `number:desc`, the latest run first), `asc` or `desc`.
         * @example number:desc
         */
        PipelineRunSort: string;
        /**
         * @description Trims every item to these fields (comma-separated); `id` is always kept.
         * @example [
         *       "id",
         *       "number",
         *       "status"
         *     ]
         */
        PipelineRunFieldsParam: ("id" | "pipeline_id" | "team_id" | "number" | "status" | "commit_sha" | "started_at" | "finished_at" | "duration_seconds" | "created_by" | "created_at")[];
        /**
         * @description Only runs in this status.
         * @example failed
         */
        PipelineRunStatusFilter: components["schemas"]["PipelineRunStatus"];
        /**
         * @description The run's id.
         * @example 0192f3b1-3c4d-7e5f-8a61-7b8c9d0e1f2a
         */
        PipelineRunId: string;
        /**
         * @description Order of the list: comma-separated `field:direction` pairs, most significant first. Sortable fields:
         *     `created_at`, `updated_at` and `severity` (by urgency: `info` < `warning` < `critical`, so
         *     `severity:desc` puts critical alerts first); directions `asc` and `desc`. Ties are broken by `id`.
         *     Default `created_at:desc`.
         *     Each field may appear once; a repeated field is refused with 400.
         * @example severity:desc,created_at:desc
         */
        AlertSort: string;
        /**
         * @description Trims every item to these fields (comma-separated); `id` is always kept.
         * @example [
         *       "id",
         *       "title",
         *       "status"
         *     ]
         */
        AlertFieldsParam: ("id" | "team_id" | "agent_id" | "title" | "message" | "severity" | "status" | "source" | "fingerprint" | "rule_id" | "labels" | "acknowledged_by" | "acknowledged_at" | "resolved_by" | "resolved_at" | "created_at" | "updated_at")[];
        /**
         * @description Only alerts of this severity.
         * @example critical
         */
        AlertSeverityFilter: components["schemas"]["AlertSeverity"];
        /**
         * @description Only alerts in this status.
         * @example open
         */
        AlertStatusFilter: components["schemas"]["AlertStatus"];
        /**
         * @description Only alerts about this agent.
         * @example 0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d
         */
        AlertAgentIdFilter: string;
        /**
         * @description The alert's id.
         * @example 0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60
         */
        AlertId: string;
        /**
         * @description Order: comma-separated `field:direction` pairs over `created_at`, `updated_at`; ties broken by `id`. Default `created_at:desc`. Each field may appear once; a repeated field is refused with 400.
         * @example created_at:desc
         */
        AlertRuleSort: string;
        /**
         * @description The alert rule's id.
         * @example 0192f4a0-1b2c-7d3e-8f40-5a6b7c8d9e01
         */
        AlertRuleId: string;
        /**
         * @description Order: comma-separated `field:direction` pairs over `created_at`, `updated_at`; ties broken by `id`. Default `created_at:desc`. Each field may appear once; a repeated field is refused with 400.
         * @example created_at:desc
         */
        NotificationChannelSort: string;
        /**
         * @description The notification channel's id.
         * @example 0192f4b0-2c3d-7e4f-9a50-6b7c8d9e0f12
         */
        NotificationChannelId: string;
        /**
         * @description Order: comma-separated `field:direction` pairs over `created_at`, `updated_at`; ties broken by `id`. Default `created_at:desc`. Each field may appear once; a repeated field is refused with 400.
         * @example created_at:desc
         */
        AlertSilenceSort: string;
        /**
         * @description The silence's id.
         * @example 0192f4c0-3d4e-7f50-8a60-7c8d9e0f1a23
         */
        AlertSilenceId: string;
        /**
         * @description Order of the list: comma-separated `field:direction` pairs; sortable fields `created_at` and `updated_at`. Ties are broken by `id`. Default `created_at:desc`. Each field may appear once; a repeated field is refused with 400.
         * @example updated_at:desc
         */
        WebhookSort: string;
        /**
         * @description Only webhooks that deliver (`true`) or that are off (`false`), for example to find the ones Opsdeck disabled.
         * @example false
         */
        WebhookActiveFilter: boolean;
        /**
         * @description The webhook's id.
         * @example 0192f3c0-2d4e-7f60-8a1b-2c3d4e5f6a7b
         */
        WebhookId: string;
        /**
         * @description Order of the list: `created_at:desc` (newest first, the default) or `created_at:asc`. Ties are broken by `id`.
         * @example created_at:desc
         */
        WebhookDeliverySort: string;
        /**
         * @description Only deliveries in this status (`failed` ones are worth a look).
         * @example failed
         */
        WebhookDeliveryStatusFilter: components["schemas"]["WebhookDeliveryStatus"];
        /**
         * @description Only deliveries of this event type (`webhook.ping` for pings).
         * @example alert.triggered
         */
        WebhookDeliveryEventFilter: string;
        /**
         * @description The delivery's id.
         * @example 0192f3c4-9e8d-7c6b-8a59-4e3d2c1b0a99
         */
        WebhookDeliveryId: string;
        /**
         * @description The channels to receive, comma-separated; by default every channel the caller may read. Asking for a channel without its read permission (`x-permission` of `EventChannel`) is 403.
         * @example [
         *       "alerts",
         *       "tasks"
         *     ]
         */
        EventChannels: components["schemas"]["EventChannel"][];
        /**
         * @description Resume after this stream position: the `id:` of the last message received. Browsers' `EventSource` sends it by itself when it reconnects. Events of the replay window (`x-event-stream.replay_hours`) after it are sent first, then live ones.
         * @example 1842
         */
        LastEventId: string;
        /**
         * @description The same as the `Last-Event-ID` header, for clients that cannot set headers; the header wins when both are sent.
         * @example 1842
         */
        LastEventIdQuery: string;
        /**
         * @description The event type, as in the body's `event`.
         * @example alert.triggered
         */
        XOpsdeckEvent: string;
        /**
         * @description The delivery's id: the same on every attempt of one delivery, new for a redelivery; use the body's `id` to drop duplicate events.
         * @example 0192f3c4-9e8d-7c6b-8a59-4e3d2c1b0a99
         */
        XOpsdeckDelivery: string;
        /**
         * @description When this attempt was signed, in seconds since the epoch. Refuse deliveries whose timestamp is more than five minutes away from your clock: that stops replays of a captured request.
         * @example 1795257000
         */
        XOpsdeckTimestamp: string;
        /**
         * @description `sha256=` and the hex HMAC-SHA256, keyed with the webhook's secret, of the timestamp header, a `.`, and the raw body exactly as received. `verifyOpsdeckSignature(body, headers, secret)` of the SDK checks it (and the timestamp); compare in constant time if you check it yourself.
         * @example sha256=5d9c68b9a1f8b2e6c4d3a2b1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1
         */
        XOpsdeckSignature: string;
        /**
         * @description W3C Trace Context (https://www.w3.org/TR/trace-context/) of the request that caused the event, when the server
         *     exports traces: the delivery attempt is a span of that trace, and this names it as the parent. Absent when
         *     tracing is off.
         * @example 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
         */
        Traceparent: string;
        /**
         * @description W3C Trace Context vendor entries that came with the trace (`traceparent`), carried on unchanged.
         * @example vendor=t61rcWkgMzE
         */
        Tracestate: string;
    };
    requestBodies: never;
    headers: {
        /**
         * @description `no-store`: the answer carries a secret shown once (a token, a key, a signing secret), so no cache, proxy or
         *     browser history may keep it. The server sets it on every answer of an operation that declares this header
         *     on any of its responses (read from the contract at start-up, not from a list in the code).
         * @example no-store
         */
        CacheControlNoStore: "no-store";
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
         * @description The path of the API key that was created.
         * @example /api/v1/api-keys/0192f0e3-4b5c-7d6e-9f00-112233445566
         */
        LocationApiKey: string;
        /**
         * @description `true` when this answer is the stored answer of an earlier request with the same `Idempotency-Key`.
         * @example true
         */
        IdempotentReplayed: "true";
        /**
         * @description The path of the team that was created.
         * @example /api/v1/teams/0192f0a0-0000-7000-8000-00000000000a
         */
        LocationTeam: string;
        /**
         * @description The path of the new membership.
         * @example /api/v1/teams/0192f0a0-0000-7000-8000-00000000000a/members/0192f0d2-1a2b-7c3d-8e4f-5a6b7c8d9e0f
         */
        LocationTeamMember: string;
        /**
         * @description The path of the user that was created.
         * @example /api/v1/admin/users/0192f0d2-1a2b-7c3d-8e4f-5a6b7c8d9e0f
         */
        LocationUser: string;
        /**
         * @description The operation is deprecated (RFC 9745). The value is when the deprecation took effect, as a structured-field
         *     date: `@` and epoch seconds (the operation's `x-deprecated-at`). `Sunset` says when it stops working, and
         *     `Link` names its successor (`rel="successor-version"`).
         * @example @1795219200
         */
        Deprecation: string;
        /**
         * @description When the deprecated operation stops working (RFC 8594), as an HTTP date (IMF-fixdate, the operation's
         *     `x-sunset`). From then on it answers `410 Gone` with `RES_GONE`.
         * @example Wed, 30 Jun 2027 23:59:59 GMT
         */
        Sunset: string;
        /**
         * @description RFC 8288 links of a deprecated operation, in one comma-separated value: always its successor,
         *     `<path>; rel="successor-version"` (the operation named by its `x-successor`), and on a page of a list also
         *     the pagination links with `rel` `first`, `prev`, `next` and `last` where they exist.
         * @example </api/v1/agents?limit=2&offset=0>; rel="first", </api/v1/agents?limit=2&offset=2>; rel="next", </api/v1/agents?limit=2&offset=4>; rel="last", </api/v2/agents>; rel="successor-version"
         */
        SuccessorLink: string;
        /**
         * @description How to authenticate (RFC 6750).
         * @example Bearer realm="opsdeck"
         */
        "WWW-Authenticate": string;
        /**
         * @description The path of the agent that was created.
         * @example /api/v1/agents/0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d
         */
        LocationAgent: string;
        /**
         * @description The path of the task that was queued: the body's `status_url`.
         * @example /api/v1/tasks/0192f1a0-1b2c-7d3e-8f40-5a6b7c8d9e0f
         */
        LocationTask: string;
        /**
         * @description The path of the agent group that was created.
         * @example /api/v1/agent-groups/0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60
         */
        LocationAgentGroup: string;
        /**
         * @description The path of the schedule that was created.
         * @example /api/v1/tasks/schedules/0192f3c0-5d6e-7f80-9a1b-2c3d4e5f6a7b
         */
        LocationTaskSchedule: string;
        /**
         * @description How many bytes the body holds.
         * @example 48213
         */
        ContentLength: number;
        /**
         * @description `attachment`, with the artifact's name as `filename` (ASCII, other characters as `_`) and as `filename*`
         *     (UTF-8, percent-encoded; RFC 6266 and RFC 8187), which clients that know it prefer.
         * @example attachment; filename="reboot.log"; filename*=UTF-8''reboot.log
         */
        ContentDisposition: string;
        /**
         * @description `bytes`: the file can be fetched by byte range (`Range`).
         * @example bytes
         */
        AcceptRanges: "bytes";
        /**
         * @description The bytes sent and the whole size: `bytes 0-1023/48213`; on `416`, `bytes *\/48213`.
         * @example bytes 0-1023/48213
         */
        ContentRange: string;
        /**
         * @description The path of the task template that was created.
         * @example /api/v1/tasks/templates/0193a1c0-7d2e-7f10-9a4b-5c6d7e8f9a01
         */
        LocationTaskTemplate: string;
        /**
         * @description The path of the enrollment token that was created.
         * @example /api/v1/teams/0192f0a0-0000-7000-8000-00000000000a/enrollment-tokens/0192f1b0-2c3d-7e4f-8a50-6b7c8d9e0f1a
         */
        LocationEnrollmentToken: string;
        /**
         * @description The path of the new artifact, which downloads it.
         * @example /api/v1/tasks/0192f1a0-1b2c-7d3e-8f40-5a6b7c8d9e0f/artifacts/0192f1b0-4d5e-7f60-8a1b-2c3d4e5f6a7b
         */
        LocationTaskArtifact: string;
        /**
         * @description The path of the dashboard that was created.
         * @example /api/v1/metrics/dashboards/0192f3c0-1a2b-7c3d-8e4f-5a6b7c8d9e0f
         */
        LocationDashboard: string;
        /**
         * @description The path of the deployment that was recorded.
         * @example /api/v1/deployments/0192f2b0-5c6d-7e8f-9a0b-1c2d3e4f5a6b
         */
        LocationDeployment: string;
        /**
         * @description The path of the rollback deployment that was created: the body's `status_url`.
         * @example /api/v1/deployments/0192f2c4-1a2b-7c3d-8e4f-5a6b7c8d9e0f
         */
        LocationRollback: string;
        /**
         * @description The path of the pipeline that was created.
         * @example /api/v1/pipelines/0192f3a0-2b3c-7d4e-8f50-6a7b8c9d0e1f
         */
        LocationPipeline: string;
        /**
         * @description The path of the run that was started.
         * @example /api/v1/pipelines/0192f3a0-2b3c-7d4e-8f50-6a7b8c9d0e1f/runs/0192f3b1-3c4d-7e5f-8a61-7b8c9d0e1f2a
         */
        LocationPipelineRun: string;
        /**
         * @description The path of the alert that was raised.
         * @example /api/v1/alerts/0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60
         */
        LocationAlert: string;
        /**
         * @description The path of the alert rule that was created.
         * @example /api/v1/metrics/alerts/rules/0192f4a0-1b2c-7d3e-8f40-5a6b7c8d9e01
         */
        LocationAlertRule: string;
        /**
         * @description The path of the notification channel that was created.
         * @example /api/v1/metrics/alerts/notifications/0192f4b0-2c3d-7e4f-9a50-6b7c8d9e0f12
         */
        LocationNotificationChannel: string;
        /**
         * @description The path of the silence that was created.
         * @example /api/v1/metrics/alerts/silences/0192f4c0-3d4e-7f50-8a60-7c8d9e0f1a23
         */
        LocationAlertSilence: string;
        /**
         * @description The path of the webhook that was registered.
         * @example /api/v1/webhooks/0192f3c0-2d4e-7f60-8a1b-2c3d4e5f6a7b
         */
        LocationWebhook: string;
        /**
         * @description The path of the ping's delivery.
         * @example /api/v1/webhooks/0192f3c0-2d4e-7f60-8a1b-2c3d4e5f6a7b/deliveries/0192f3c6-1a2b-7c3d-8e4f-5a6b7c8d9e00
         */
        LocationWebhookPing: string;
        /**
         * @description The path of the new delivery.
         * @example /api/v1/webhooks/0192f3c0-2d4e-7f60-8a1b-2c3d4e5f6a7b/deliveries/0192f3c8-3c4d-7e5f-8a6b-7c8d9e0f1a2b
         */
        LocationWebhookRedelivery: string;
        /**
         * @description `nosniff`, on every answer: browsers must take the declared `Content-Type` as it is and never guess
         *     another (a JSON body is never run as a script or rendered as HTML).
         * @example nosniff
         */
        XContentTypeOptions: "nosniff";
        /**
         * @description What a browser may load or run for the answer, on every answer. API answers (JSON, text) allow nothing:
         *     `default-src 'none';frame-ancestors 'none';base-uri 'none';form-action 'none'`. The docs page (`/docs`)
         *     allows only its own inline scripts (by hash), its inline styles, and images and fonts from itself or
         *     `data:`.
         * @example default-src 'none';frame-ancestors 'none';base-uri 'none';form-action 'none'
         */
        ContentSecurityPolicy: string;
        /**
         * @description `no-referrer`, on every answer: a page of this server (the docs) never sends its address to the sites
         *     it links to.
         * @example no-referrer
         */
        ReferrerPolicy: string;
        /**
         * @description HSTS (RFC 6797): sent only when the server's public address (`PUBLIC_URL`) is `https://…`, so that a
         *     browser that has seen it goes on reaching the server over HTTPS only. Absent on a plain-HTTP server.
         * @example max-age=31536000
         */
        StrictTransportSecurity: string;
        /**
         * @description The request headers the answer depends on, so that caches keep one copy per value.
         * @example Accept
         */
        Vary: string;
        /**
         * @description Where the docs are (`/docs`), relative to this server.
         * @example /docs
         */
        LocationDocs: string;
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
                    "Cache-Control": components["headers"]["CacheControlNoStore"];
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
                    "Cache-Control": components["headers"]["CacheControlNoStore"];
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
                /**
                 * @description An HTTP date, usually the `Last-Modified` of a representation you hold: the answer is `304 Not Modified`
                 *     (no body) unless the resource changed after it (to the second, as HTTP dates go). Ignored when
                 *     `If-None-Match` is sent (the more precise check), when the value is not an HTTP date, and when the request
                 *     carries `Cache-Control: no-cache`, which `fetch()` adds to a request with a conditional header unless you set
                 *     `Cache-Control` yourself (e.g. `max-age=0`).
                 * @example Fri, 20 Nov 2026 17:02:12 GMT
                 */
                "If-Modified-Since"?: components["parameters"]["IfModifiedSince"];
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
                    "Cache-Control": components["headers"]["CacheControlNoStore"];
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    Location: components["headers"]["LocationApiKey"];
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
                 * @description Order: comma-separated `field:direction` pairs over `name`, `created_at`; ties broken by `id`. Default `name:asc`. Each field may appear once; a repeated field is refused with 400.
                 * @example name:asc
                 */
                sort?: components["parameters"]["TeamSort"];
                /**
                 * @description Only teams whose name contains this text (any case). Reserved characters may be sent unencoded (`allowReserved`), and `+` stands for a space, as HTML forms and `URLSearchParams` encode one.
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
                    Location: components["headers"]["LocationTeam"];
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
                /**
                 * @description An HTTP date, usually the `Last-Modified` of a representation you hold: the answer is `304 Not Modified`
                 *     (no body) unless the resource changed after it (to the second, as HTTP dates go). Ignored when
                 *     `If-None-Match` is sent (the more precise check), when the value is not an HTTP date, and when the request
                 *     carries `Cache-Control: no-cache`, which `fetch()` adds to a request with a conditional header unless you set
                 *     `Cache-Control` yourself (e.g. `max-age=0`).
                 * @example Fri, 20 Nov 2026 17:02:12 GMT
                 */
                "If-Modified-Since"?: components["parameters"]["IfModifiedSince"];
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
                "application/merge-patch+json": components["schemas"]["TeamPatch"];
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
                    Location: components["headers"]["LocationTeamMember"];
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
                 * @description Order: comma-separated `field:direction` pairs over `email`, `name`, `role`, `created_at`; ties broken by `id`. Default `created_at:desc`. Each field may appear once; a repeated field is refused with 400.
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
                 * @description Only users whose email or name contains this text (any case). Reserved characters may be sent unencoded (`allowReserved`), and `+` stands for a space, as HTML forms and `URLSearchParams` encode one.
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
                    Location: components["headers"]["LocationUser"];
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
                /**
                 * @description An HTTP date, usually the `Last-Modified` of a representation you hold: the answer is `304 Not Modified`
                 *     (no body) unless the resource changed after it (to the second, as HTTP dates go). Ignored when
                 *     `If-None-Match` is sent (the more precise check), when the value is not an HTTP date, and when the request
                 *     carries `Cache-Control: no-cache`, which `fetch()` adds to a request with a conditional header unless you set
                 *     `Cache-Control` yourself (e.g. `max-age=0`).
                 * @example Fri, 20 Nov 2026 17:02:12 GMT
                 */
                "If-Modified-Since"?: components["parameters"]["IfModifiedSince"];
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
                "application/merge-patch+json": components["schemas"]["UserPatch"];
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
                 *     Each field may appear once; a repeated field is refused with 400.
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
                 * @description Only agents whose hostname contains this text (any case) or whose address starts with it. Reserved characters may be sent unencoded (`allowReserved`), and `+` stands for a space, as HTML forms and `URLSearchParams` encode one.
                 * @example web-
                 */
                search?: components["parameters"]["AgentSearch"];
                /**
                 * @description Only agents that belong to this agent group (one of the caller's teams'; any other finds nothing).
                 * @example 0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60
                 */
                group_id?: components["parameters"]["GroupIdFilter"];
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
                    Deprecation: components["headers"]["Deprecation"];
                    Sunset: components["headers"]["Sunset"];
                    Link: components["headers"]["SuccessorLink"];
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
            /** @description The representation you hold (its ETag in `If-None-Match`) is current; no body. */
            304: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    Deprecation: components["headers"]["Deprecation"];
                    Sunset: components["headers"]["Sunset"];
                    Link: components["headers"]["SuccessorLink"];
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
            /** @description The request is malformed: a parameter is unknown or invalid. */
            400: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    Deprecation: components["headers"]["Deprecation"];
                    Sunset: components["headers"]["Sunset"];
                    Link: components["headers"]["SuccessorLink"];
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
            /** @description No valid credentials: the bearer token or API key is missing, malformed, expired or revoked. */
            401: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    Deprecation: components["headers"]["Deprecation"];
                    Sunset: components["headers"]["Sunset"];
                    Link: components["headers"]["SuccessorLink"];
                    "WWW-Authenticate": components["headers"]["WWW-Authenticate"];
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
            /** @description Authenticated, but the caller's role or API key scopes lack the permission agents:read. */
            403: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    Deprecation: components["headers"]["Deprecation"];
                    Sunset: components["headers"]["Sunset"];
                    Link: components["headers"]["SuccessorLink"];
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
            410: components["responses"]["Gone"];
            /** @description Too many requests; wait Retry-After seconds. */
            429: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    Deprecation: components["headers"]["Deprecation"];
                    Sunset: components["headers"]["Sunset"];
                    Link: components["headers"]["SuccessorLink"];
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
            500: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    Deprecation: components["headers"]["Deprecation"];
                    Sunset: components["headers"]["Sunset"];
                    Link: components["headers"]["SuccessorLink"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"];
                };
            };
            /** @description A dependency does not answer or the server is shutting down; retry later. */
            503: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    Deprecation: components["headers"]["Deprecation"];
                    Sunset: components["headers"]["Sunset"];
                    Link: components["headers"]["SuccessorLink"];
                    "Retry-After": components["headers"]["RetryAfter"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ErrorEnvelope"];
                };
            };
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
                    Location: components["headers"]["LocationAgent"];
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
    listAgentsV2: {
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
                 *     Each field may appear once; a repeated field is refused with 400.
                 * @example last_seen:desc,hostname:asc
                 */
                sort?: components["parameters"]["AgentSort"];
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
                 * @description Only agents whose hostname contains this text (any case) or whose address starts with it. Reserved characters may be sent unencoded (`allowReserved`), and `+` stands for a space, as HTML forms and `URLSearchParams` encode one.
                 * @example web-
                 */
                search?: components["parameters"]["AgentSearch"];
                /**
                 * @description Only agents that belong to this agent group (one of the caller's teams'; any other finds nothing).
                 * @example 0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60
                 */
                group_id?: components["parameters"]["GroupIdFilter"];
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
            /** @description A page of agents with their groups and health scores, and the summary of all matching agents. */
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
                    "application/json": components["schemas"]["AgentV2ListEnvelope"];
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
    getAgentSummary: {
        parameters: {
            query?: {
                /**
                 * @description Only resources of this team (one of the caller's).
                 * @example 0192f0a0-0000-7000-8000-00000000000a
                 */
                team_id?: components["parameters"]["TeamIdFilter"];
                /**
                 * @description Only agents that belong to this agent group (one of the caller's teams'; any other finds nothing).
                 * @example 0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60
                 */
                group_id?: components["parameters"]["GroupIdFilter"];
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
                /**
                 * @description An HTTP date, usually the `Last-Modified` of a representation you hold: the answer is `304 Not Modified`
                 *     (no body) unless the resource changed after it (to the second, as HTTP dates go). Ignored when
                 *     `If-None-Match` is sent (the more precise check), when the value is not an HTTP date, and when the request
                 *     carries `Cache-Control: no-cache`, which `fetch()` adds to a request with a conditional header unless you set
                 *     `Cache-Control` yourself (e.g. `max-age=0`).
                 * @example Fri, 20 Nov 2026 17:02:12 GMT
                 */
                "If-Modified-Since"?: components["parameters"]["IfModifiedSince"];
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
    listAgentTasks: {
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
                 * @description Trims every item to these fields (comma-separated); `id` is always kept.
                 * @example [
                 *       "id",
                 *       "type",
                 *       "status"
                 *     ]
                 */
                fields?: components["parameters"]["TaskFieldsParam"];
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
                 * @description Only tasks of this kind: `fleet` for fleet-wide tasks, `agent` for agents' tasks (children included).
                 * @example fleet
                 */
                kind?: components["parameters"]["TaskKindFilter"];
                /**
                 * @description Only the children of this fleet task.
                 * @example 0192f1a0-1b2c-7d3e-8f40-5a6b7c8d9e0f
                 */
                parent_id?: components["parameters"]["ParentIdFilter"];
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
                    "application/json": components["schemas"]["TaskPageEnvelope"];
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
    createAgentTask: {
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
        /** @description The action, and whether to queue it for an offline agent. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["CreateAgentTaskRequest"];
            };
        };
        responses: {
            /** @description Accepted: the task was queued; `Location` is its status URL. */
            202: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    Location: components["headers"]["LocationTask"];
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
                    Location: components["headers"]["LocationTask"];
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
                    Location: components["headers"]["LocationTask"];
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
                    Location: components["headers"]["LocationTask"];
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
                    Location: components["headers"]["LocationTask"];
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
    listAgentGroups: {
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
                 * @description Order: comma-separated `field:direction` pairs over `name`, `created_at`; ties broken by `id`. Default `name:asc`. Each field may appear once; a repeated field is refused with 400.
                 * @example name:asc
                 */
                sort?: components["parameters"]["AgentGroupSort"];
                /**
                 * @description Trims every item to these fields (comma-separated); `id` is always kept.
                 * @example [
                 *       "id",
                 *       "name"
                 *     ]
                 */
                fields?: components["parameters"]["AgentGroupFieldsParam"];
                /**
                 * @description Only resources of this team (one of the caller's).
                 * @example 0192f0a0-0000-7000-8000-00000000000a
                 */
                team_id?: components["parameters"]["TeamIdFilter"];
                /**
                 * @description Only groups whose name contains this text (any case). Reserved characters may be sent unencoded (`allowReserved`), and `+` stands for a space, as HTML forms and `URLSearchParams` encode one.
                 * @example web
                 */
                search?: components["parameters"]["AgentGroupSearch"];
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
            /** @description A page of agent groups. */
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
                    "application/json": components["schemas"]["AgentGroupListEnvelope"];
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
    createAgentGroup: {
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
        /** @description A new agent group. `team_id` may be left out when the caller belongs to exactly one team. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["AgentGroupCreate"];
            };
        };
        responses: {
            /** @description The group was created; `Location` is its path. */
            201: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    Location: components["headers"]["LocationAgentGroup"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    "Idempotent-Replayed": components["headers"]["IdempotentReplayed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AgentGroupEnvelope"];
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
    getAgentGroup: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description The `ETag` of a representation you hold; the answer is `304 Not Modified` (no body) while it is current.
                 * @example "x3mY9qLr0Zt1b8VwKc2PjA"
                 */
                "If-None-Match"?: components["parameters"]["IfNoneMatch"];
                /**
                 * @description An HTTP date, usually the `Last-Modified` of a representation you hold: the answer is `304 Not Modified`
                 *     (no body) unless the resource changed after it (to the second, as HTTP dates go). Ignored when
                 *     `If-None-Match` is sent (the more precise check), when the value is not an HTTP date, and when the request
                 *     carries `Cache-Control: no-cache`, which `fetch()` adds to a request with a conditional header unless you set
                 *     `Cache-Control` yourself (e.g. `max-age=0`).
                 * @example Fri, 20 Nov 2026 17:02:12 GMT
                 */
                "If-Modified-Since"?: components["parameters"]["IfModifiedSince"];
            };
            path: {
                /**
                 * @description The agent group's id.
                 * @example 0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60
                 */
                group_id: components["parameters"]["AgentGroupId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The group. */
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
                    "application/json": components["schemas"]["AgentGroupEnvelope"];
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
    deleteAgentGroup: {
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
                 * @description The agent group's id.
                 * @example 0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60
                 */
                group_id: components["parameters"]["AgentGroupId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The group was deleted. */
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
    updateAgentGroup: {
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
                 * @description The agent group's id.
                 * @example 0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60
                 */
                group_id: components["parameters"]["AgentGroupId"];
            };
            cookie?: never;
        };
        /** @description A JSON merge patch of an agent group; a group never changes team. */
        requestBody: {
            content: {
                "application/merge-patch+json": components["schemas"]["AgentGroupPatch"];
                "application/json": components["schemas"]["AgentGroupPatch"];
            };
        };
        responses: {
            /** @description The group as it now is. */
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
                    "application/json": components["schemas"]["AgentGroupEnvelope"];
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
    listAgentGroupMembers: {
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
                 *     Each field may appear once; a repeated field is refused with 400.
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
                 * @description The agent group's id.
                 * @example 0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60
                 */
                group_id: components["parameters"]["AgentGroupId"];
            };
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
            404: components["responses"]["NotFound"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    addAgentGroupMembers: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The agent group's id.
                 * @example 0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60
                 */
                group_id: components["parameters"]["AgentGroupId"];
            };
            cookie?: never;
        };
        /** @description Agents to add to the group; each must be an agent of the group's team. Repeated ids count once. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["AgentGroupMembersAdd"];
            };
        };
        responses: {
            /** @description The agents added, and those that were members already. */
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
                    "application/json": components["schemas"]["AgentGroupMembersAddedEnvelope"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            422: components["responses"]["UnprocessableEntity"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    removeAgentGroupMember: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The agent group's id.
                 * @example 0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60
                 */
                group_id: components["parameters"]["AgentGroupId"];
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
            /** @description The agent left the group. */
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
                 * @description Trims every item to these fields (comma-separated); `id` is always kept.
                 * @example [
                 *       "id",
                 *       "type",
                 *       "status"
                 *     ]
                 */
                fields?: components["parameters"]["TaskFieldsParam"];
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
                 * @description Only tasks of this kind: `fleet` for fleet-wide tasks, `agent` for agents' tasks (children included).
                 * @example fleet
                 */
                kind?: components["parameters"]["TaskKindFilter"];
                /**
                 * @description Only the children of this fleet task.
                 * @example 0192f1a0-1b2c-7d3e-8f40-5a6b7c8d9e0f
                 */
                parent_id?: components["parameters"]["ParentIdFilter"];
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
                    "application/json": components["schemas"]["TaskPageEnvelope"];
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
    createTask: {
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
        /** @description The action, its target and the rollout's limits. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["CreateTaskRequest"];
            };
        };
        responses: {
            /** @description Accepted: the fleet task and its children were created; `Location` is the fleet task's status URL. */
            202: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    Location: components["headers"]["LocationTask"];
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
    listTaskSchedules: {
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
                 * @description Order: comma-separated `field:direction` pairs over `name`, `created_at`; ties broken by `id`. Default `name:asc`. Each field may appear once; a repeated field is refused with 400.
                 * @example name:asc
                 */
                sort?: components["parameters"]["TaskScheduleSort"];
                /**
                 * @description Trims every item to these fields (comma-separated); `id` is always kept.
                 * @example [
                 *       "id",
                 *       "name",
                 *       "next_runs"
                 *     ]
                 */
                fields?: components["parameters"]["TaskScheduleFieldsParam"];
                /**
                 * @description Only resources of this team (one of the caller's).
                 * @example 0192f0a0-0000-7000-8000-00000000000a
                 */
                team_id?: components["parameters"]["TeamIdFilter"];
                /**
                 * @description Only enabled (`true`) or disabled (`false`) schedules.
                 * @example true
                 */
                enabled?: components["parameters"]["TaskScheduleEnabledFilter"];
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
            /** @description A page of task schedules. */
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
                    "application/json": components["schemas"]["TaskScheduleListEnvelope"];
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
    createTaskSchedule: {
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
        /** @description A new schedule. `team_id` may be left out when the caller belongs to exactly one team. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["TaskScheduleCreate"];
            };
        };
        responses: {
            /** @description The schedule was created; `Location` is its path. */
            201: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    Location: components["headers"]["LocationTaskSchedule"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    "Idempotent-Replayed": components["headers"]["IdempotentReplayed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TaskScheduleEnvelope"];
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
    getTaskSchedule: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description The `ETag` of a representation you hold; the answer is `304 Not Modified` (no body) while it is current.
                 * @example "x3mY9qLr0Zt1b8VwKc2PjA"
                 */
                "If-None-Match"?: components["parameters"]["IfNoneMatch"];
                /**
                 * @description An HTTP date, usually the `Last-Modified` of a representation you hold: the answer is `304 Not Modified`
                 *     (no body) unless the resource changed after it (to the second, as HTTP dates go). Ignored when
                 *     `If-None-Match` is sent (the more precise check), when the value is not an HTTP date, and when the request
                 *     carries `Cache-Control: no-cache`, which `fetch()` adds to a request with a conditional header unless you set
                 *     `Cache-Control` yourself (e.g. `max-age=0`).
                 * @example Fri, 20 Nov 2026 17:02:12 GMT
                 */
                "If-Modified-Since"?: components["parameters"]["IfModifiedSince"];
            };
            path: {
                /**
                 * @description The schedule's id.
                 * @example 0192f3c0-5d6e-7f80-9a1b-2c3d4e5f6a7b
                 */
                schedule_id: components["parameters"]["TaskScheduleId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The schedule. */
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
                    "application/json": components["schemas"]["TaskScheduleEnvelope"];
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
    deleteTaskSchedule: {
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
                 * @description The schedule's id.
                 * @example 0192f3c0-5d6e-7f80-9a1b-2c3d4e5f6a7b
                 */
                schedule_id: components["parameters"]["TaskScheduleId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The schedule was deleted. */
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
    updateTaskSchedule: {
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
                 * @description The schedule's id.
                 * @example 0192f3c0-5d6e-7f80-9a1b-2c3d4e5f6a7b
                 */
                schedule_id: components["parameters"]["TaskScheduleId"];
            };
            cookie?: never;
        };
        /** @description A JSON merge patch of a schedule; a schedule never changes team. */
        requestBody: {
            content: {
                "application/merge-patch+json": components["schemas"]["TaskSchedulePatch"];
                "application/json": components["schemas"]["TaskSchedulePatch"];
            };
        };
        responses: {
            /** @description The schedule as it now is. */
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
                    "application/json": components["schemas"]["TaskScheduleEnvelope"];
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
    listTaskScheduleExecutions: {
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
                 * @description Order by due time: `due_at:desc` (the default, latest first) or `due_at:asc`.
                 * @example due_at:desc
                 */
                sort?: components["parameters"]["TaskScheduleExecutionSort"];
                /**
                 * @description Only executions that ended this way.
                 * @example failed
                 */
                status?: components["parameters"]["TaskScheduleExecutionStatusFilter"];
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
                 * @description The schedule's id.
                 * @example 0192f3c0-5d6e-7f80-9a1b-2c3d4e5f6a7b
                 */
                schedule_id: components["parameters"]["TaskScheduleId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of the schedule's executions. */
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
                    "application/json": components["schemas"]["TaskScheduleExecutionListEnvelope"];
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
    getTask: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description The `ETag` of a representation you hold; the answer is `304 Not Modified` (no body) while it is current.
                 * @example "x3mY9qLr0Zt1b8VwKc2PjA"
                 */
                "If-None-Match"?: components["parameters"]["IfNoneMatch"];
                /**
                 * @description An HTTP date, usually the `Last-Modified` of a representation you hold: the answer is `304 Not Modified`
                 *     (no body) unless the resource changed after it (to the second, as HTTP dates go). Ignored when
                 *     `If-None-Match` is sent (the more precise check), when the value is not an HTTP date, and when the request
                 *     carries `Cache-Control: no-cache`, which `fetch()` adds to a request with a conditional header unless you set
                 *     `Cache-Control` yourself (e.g. `max-age=0`).
                 * @example Fri, 20 Nov 2026 17:02:12 GMT
                 */
                "If-Modified-Since"?: components["parameters"]["IfModifiedSince"];
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
                    "Last-Modified": components["headers"]["LastModified"];
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
    listTaskArtifacts: {
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
            /** @description A page of the task's artifacts. */
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
                    "application/json": components["schemas"]["TaskArtifactListEnvelope"];
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
    downloadTaskArtifact: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description One byte range of the file (RFC 9110): `bytes=0-1023` (the first KiB), `bytes=1024-` (from byte 1024 on) or
                 *     `bytes=-512` (the last 512 bytes). A satisfiable range is answered `206` with `Content-Range`; one that starts
                 *     beyond the end, `416`. Several ranges, or a value that is not a byte range, get the whole file (`200`).
                 * @example bytes=0-1023
                 */
                Range?: components["parameters"]["Range"];
                /**
                 * @description The `ETag` of the file you hold part of; `Range` applies only while it is current, else the whole file is sent (`200`).
                 * @example "n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg"
                 */
                "If-Range"?: components["parameters"]["IfRange"];
                /**
                 * @description The `ETag` of a representation you hold; the answer is `304 Not Modified` (no body) while it is current.
                 * @example "x3mY9qLr0Zt1b8VwKc2PjA"
                 */
                "If-None-Match"?: components["parameters"]["IfNoneMatch"];
                /**
                 * @description An HTTP date, usually the `Last-Modified` of a representation you hold: the answer is `304 Not Modified`
                 *     (no body) unless the resource changed after it (to the second, as HTTP dates go). Ignored when
                 *     `If-None-Match` is sent (the more precise check), when the value is not an HTTP date, and when the request
                 *     carries `Cache-Control: no-cache`, which `fetch()` adds to a request with a conditional header unless you set
                 *     `Cache-Control` yourself (e.g. `max-age=0`).
                 * @example Fri, 20 Nov 2026 17:02:12 GMT
                 */
                "If-Modified-Since"?: components["parameters"]["IfModifiedSince"];
            };
            path: {
                /**
                 * @description The task's id.
                 * @example 0192f1a0-1b2c-7d3e-8f40-5a6b7c8d9e0f
                 */
                task_id: components["parameters"]["TaskId"];
                /**
                 * @description The artifact's id.
                 * @example 0192f1b0-4d5e-7f60-8a1b-2c3d4e5f6a7b
                 */
                artifact_id: components["parameters"]["ArtifactId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The whole file. */
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
                    "Content-Length": components["headers"]["ContentLength"];
                    "Content-Disposition": components["headers"]["ContentDisposition"];
                    "Accept-Ranges": components["headers"]["AcceptRanges"];
                    [name: string]: unknown;
                };
                content: {
                    /** @example Rebooting host web-01 for kernel 6.8.0-49 */
                    "application/octet-stream": components["schemas"]["ArtifactContent"];
                    /** @example Rebooting host web-01 for kernel 6.8.0-49 */
                    "*/*": components["schemas"]["ArtifactContent"];
                };
            };
            /** @description The byte range asked for; `Content-Range` says which bytes of how many. */
            206: {
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
                    "Content-Length": components["headers"]["ContentLength"];
                    "Content-Disposition": components["headers"]["ContentDisposition"];
                    "Accept-Ranges": components["headers"]["AcceptRanges"];
                    "Content-Range": components["headers"]["ContentRange"];
                    [name: string]: unknown;
                };
                content: {
                    /** @example Rebooting */
                    "application/octet-stream": components["schemas"]["ArtifactContent"];
                    /** @example Rebooting */
                    "*/*": components["schemas"]["ArtifactContent"];
                };
            };
            304: components["responses"]["NotModified"];
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            416: components["responses"]["RangeNotSatisfiable"];
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
                    Location: components["headers"]["LocationTask"];
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
    listTaskTemplates: {
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
                 * @description Order: comma-separated `field:direction` pairs over `name`, `created_at`, `updated_at`; ties broken by `id`. Default `name:asc`. Each field may appear once; a repeated field is refused with 400.
                 * @example name:asc
                 */
                sort?: components["parameters"]["TaskTemplateSort"];
                /**
                 * @description Trims every item to these fields (comma-separated); `id` is always kept.
                 * @example [
                 *       "id",
                 *       "name",
                 *       "version"
                 *     ]
                 */
                fields?: components["parameters"]["TaskTemplateFieldsParam"];
                /**
                 * @description Only resources of this team (one of the caller's).
                 * @example 0192f0a0-0000-7000-8000-00000000000a
                 */
                team_id?: components["parameters"]["TeamIdFilter"];
                /**
                 * @description Only templates whose name contains this text (any case). Reserved characters may be sent unencoded (`allowReserved`), and `+` stands for a space, as HTML forms and `URLSearchParams` encode one.
                 * @example restart
                 */
                search?: components["parameters"]["TaskTemplateSearch"];
                /**
                 * @description Only templates of this action.
                 * @example command
                 */
                action?: components["parameters"]["TaskTemplateActionFilter"];
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
            /** @description A page of task templates. */
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
                    "application/json": components["schemas"]["TaskTemplateListEnvelope"];
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
    createTaskTemplate: {
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
        /** @description A new task template. `team_id` may be left out when the caller belongs to exactly one team. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["TaskTemplateCreate"];
            };
        };
        responses: {
            /** @description The template was created; `Location` is its path. */
            201: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    Location: components["headers"]["LocationTaskTemplate"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    "Idempotent-Replayed": components["headers"]["IdempotentReplayed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TaskTemplateEnvelope"];
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
    getTaskTemplate: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description The `ETag` of a representation you hold; the answer is `304 Not Modified` (no body) while it is current.
                 * @example "x3mY9qLr0Zt1b8VwKc2PjA"
                 */
                "If-None-Match"?: components["parameters"]["IfNoneMatch"];
                /**
                 * @description An HTTP date, usually the `Last-Modified` of a representation you hold: the answer is `304 Not Modified`
                 *     (no body) unless the resource changed after it (to the second, as HTTP dates go). Ignored when
                 *     `If-None-Match` is sent (the more precise check), when the value is not an HTTP date, and when the request
                 *     carries `Cache-Control: no-cache`, which `fetch()` adds to a request with a conditional header unless you set
                 *     `Cache-Control` yourself (e.g. `max-age=0`).
                 * @example Fri, 20 Nov 2026 17:02:12 GMT
                 */
                "If-Modified-Since"?: components["parameters"]["IfModifiedSince"];
            };
            path: {
                /**
                 * @description The task template's id.
                 * @example 0193a1c0-7d2e-7f10-9a4b-5c6d7e8f9a01
                 */
                template_id: components["parameters"]["TaskTemplateId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The template at its current version. */
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
                    "application/json": components["schemas"]["TaskTemplateEnvelope"];
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
    deleteTaskTemplate: {
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
                 * @description The task template's id.
                 * @example 0193a1c0-7d2e-7f10-9a4b-5c6d7e8f9a01
                 */
                template_id: components["parameters"]["TaskTemplateId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The template was deleted. */
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
    updateTaskTemplate: {
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
                 * @description The task template's id.
                 * @example 0193a1c0-7d2e-7f10-9a4b-5c6d7e8f9a01
                 */
                template_id: components["parameters"]["TaskTemplateId"];
            };
            cookie?: never;
        };
        /** @description A JSON merge patch of a task template; a template never changes team. */
        requestBody: {
            content: {
                "application/merge-patch+json": components["schemas"]["TaskTemplatePatch"];
                "application/json": components["schemas"]["TaskTemplatePatch"];
            };
        };
        responses: {
            /** @description The template at its new version. */
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
                    "application/json": components["schemas"]["TaskTemplateEnvelope"];
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
    listTaskTemplateVersions: {
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
                 * @description Order: `version:desc` (the default, newest first) or `version:asc`.
                 * @example version:desc
                 */
                sort?: components["parameters"]["TaskTemplateVersionSort"];
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
                 * @description The task template's id.
                 * @example 0193a1c0-7d2e-7f10-9a4b-5c6d7e8f9a01
                 */
                template_id: components["parameters"]["TaskTemplateId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of the template's versions. */
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
                    "application/json": components["schemas"]["TaskTemplateVersionListEnvelope"];
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
                    "Cache-Control": components["headers"]["CacheControlNoStore"];
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    Location: components["headers"]["LocationEnrollmentToken"];
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
                    "Cache-Control": components["headers"]["CacheControlNoStore"];
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    Location: components["headers"]["LocationAgent"];
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
    uploadTaskArtifact: {
        parameters: {
            query: {
                /**
                 * @description The file name to store the upload under, unique within the task (`ArtifactName`), percent-encoded (reserved characters such as `(` and `)` may stay as they are).
                 * @example reboot.log
                 */
                name: components["parameters"]["ArtifactNameQuery"];
            };
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
        /** @description The file's bytes, as they are; `Content-Type` is the file's media type. */
        requestBody: {
            content: {
                /** @example Rebooting host web-01 for kernel 6.8.0-49 */
                "application/octet-stream": components["schemas"]["ArtifactContent"];
                /** @example Rebooting host web-01 for kernel 6.8.0-49 */
                "*/*": components["schemas"]["ArtifactContent"];
            };
        };
        responses: {
            /** @description The artifact, stored whole; `Location` downloads it. */
            201: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    Location: components["headers"]["LocationTaskArtifact"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["TaskArtifactEnvelope"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    reportInventory: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * @description An agent's whole inventory: every installed package, every system service and the hardware facts. It
         *     replaces the previous report entirely. A package appears once per name, version, architecture and ecosystem; a
         *     service once per name. The body must also fit the server's body limit (1 MiB by default), else 413.
         */
        requestBody: {
            content: {
                "application/json": components["schemas"]["InventoryReport"];
            };
        };
        responses: {
            /** @description The inventory as now stored. */
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
                    "application/json": components["schemas"]["InventorySummaryEnvelope"];
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
    reportMetrics: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description A batch of metric samples from an agent. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["MetricReport"];
            };
        };
        responses: {
            /** @description The samples were stored. */
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
    listAgentPackages: {
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
                 * @description Order by `name` (default `name:asc`), `asc` or `desc`; packages of the same name keep the order the agent reported them in (reversed for `desc`).
                 * @example name:asc
                 */
                sort?: components["parameters"]["PackageSort"];
                /**
                 * @description Only packages whose name contains this text (any case). Reserved characters may be sent unencoded (`allowReserved`), and `+` stands for a space, as HTML forms and `URLSearchParams` encode one.
                 * @example ssl
                 */
                search?: components["parameters"]["PackageSearch"];
                /**
                 * @description Only packages with exactly this name.
                 * @example openssl
                 */
                name?: components["parameters"]["PackageNameFilter"];
                /**
                 * @description Only packages whose installed version is greater than this one. Versions compare by their runs of digits,
                 *     as numbers, from left to right; everything else in them is ignored (`1.20.1` > `1.9.9`, `2.0` < `2.0.1`).
                 * @example 3.0.2
                 */
                version_gt?: components["parameters"]["PackageVersionGt"];
                /**
                 * @description Only packages whose installed version is less than this one, compared as for `version_gt`.
                 * @example 3.0.14
                 */
                version_lt?: components["parameters"]["PackageVersionLt"];
                /**
                 * @description Only packages with (`true`) or without (`false`) a newer version available.
                 * @example true
                 */
                has_update?: components["parameters"]["PackageHasUpdate"];
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
                 * @description The agent's id.
                 * @example 0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d
                 */
                agent_id: components["parameters"]["AgentId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of packages. */
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
                    "application/json": components["schemas"]["PackageListEnvelope"];
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
    listAgentServices: {
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
                 * @description Order by `name` (default `name:asc`) or `state`, `asc` or `desc`; ties broken by name.
                 * @example state:asc
                 */
                sort?: components["parameters"]["SystemServiceSort"];
                /**
                 * @description Only services in this state.
                 * @example failed
                 */
                state?: components["parameters"]["SystemServiceStateFilter"];
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
                 * @description The agent's id.
                 * @example 0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d
                 */
                agent_id: components["parameters"]["AgentId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of services. */
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
                    "application/json": components["schemas"]["SystemServiceListEnvelope"];
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
    getAgentHardware: {
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
            /** @description The hardware facts. */
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
                    "application/json": components["schemas"]["HardwareEnvelope"];
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
    getAgentMetrics: {
        parameters: {
            query: {
                /**
                 * @description The metric.
                 * @example cpu_usage
                 */
                name: components["parameters"]["MetricNameParam"];
                /**
                 * @description The start of the range, inclusive (RFC 3339). The range may span at most 31 days.
                 * @example 2026-11-21T10:00:00Z
                 */
                start_date: components["parameters"]["MetricStartDate"];
                /**
                 * @description The end of the range, exclusive (RFC 3339); after `start_date`.
                 * @example 2026-11-21T11:00:00Z
                 */
                end_date: components["parameters"]["MetricEndDate"];
                /**
                 * @description The width of a bucket (default `5m`). A range may touch at most 1,440 buckets (a day of `1m` from a whole minute, five days of
                 *     `5m`, fifteen of `15m`, 31 of `1h` or `1d`); more is refused with 400.
                 * @example 5m
                 */
                bucket?: components["parameters"]["MetricBucketParam"];
                /**
                 * @description How the samples of a bucket are combined (default `avg`).
                 * @example avg
                 */
                aggregate?: components["parameters"]["MetricAggregateParam"];
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
                 * @description The agent's id.
                 * @example 0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d
                 */
                agent_id: components["parameters"]["AgentId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The metric series. */
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
                    "application/json": components["schemas"]["MetricSeriesEnvelope"];
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
    searchPackages: {
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
                 * @description Order of the list: comma-separated `field:direction` pairs, most significant first. Sortable fields: `name`,
                 *     `hostname`; directions `asc` and `desc`. Ties are broken by an internal id. Default `name:asc,hostname:asc`.
                 *     Each field may appear once; a repeated field is refused with 400.
                 * @example hostname:asc
                 */
                sort?: components["parameters"]["FleetPackageSort"];
                /**
                 * @description Only packages with exactly this name.
                 * @example openssl
                 */
                name?: components["parameters"]["PackageNameFilter"];
                /**
                 * @description Only packages whose name contains this text (any case). Reserved characters may be sent unencoded (`allowReserved`), and `+` stands for a space, as HTML forms and `URLSearchParams` encode one.
                 * @example ssl
                 */
                search?: components["parameters"]["PackageSearch"];
                /**
                 * @description Only packages whose installed version is greater than this one. Versions compare by their runs of digits,
                 *     as numbers, from left to right; everything else in them is ignored (`1.20.1` > `1.9.9`, `2.0` < `2.0.1`).
                 * @example 3.0.2
                 */
                version_gt?: components["parameters"]["PackageVersionGt"];
                /**
                 * @description Only packages whose installed version is less than this one, compared as for `version_gt`.
                 * @example 3.0.14
                 */
                version_lt?: components["parameters"]["PackageVersionLt"];
                /**
                 * @description Only packages with (`true`) or without (`false`) a newer version available.
                 * @example true
                 */
                has_update?: components["parameters"]["PackageHasUpdate"];
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
            /** @description A page of packages, with their agents. */
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
                    "application/json": components["schemas"]["FleetPackageListEnvelope"];
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
    listPackageUpdates: {
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
                 * @description Order of the list: comma-separated `field:direction` pairs, most significant first. Sortable fields: `agents`
                 *     (how many agents are affected), `name`; directions `asc` and `desc`. Default `agents:desc,name:asc`.
                 *     Each field may appear once; a repeated field is refused with 400.
                 * @example agents:desc,name:asc
                 */
                sort?: components["parameters"]["PackageUpdateSort"];
                /**
                 * @description Only packages with exactly this name.
                 * @example openssl
                 */
                name?: components["parameters"]["PackageNameFilter"];
                /**
                 * @description Only packages whose name contains this text (any case). Reserved characters may be sent unencoded (`allowReserved`), and `+` stands for a space, as HTML forms and `URLSearchParams` encode one.
                 * @example ssl
                 */
                search?: components["parameters"]["PackageSearch"];
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
            /** @description A page of package updates. */
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
                    "application/json": components["schemas"]["PackageUpdateListEnvelope"];
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
    queryMetrics: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description The metrics, range, step, aggregation, grouping and filter. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["MetricQuery"];
            };
        };
        responses: {
            /** @description The series. */
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
                    "application/json": components["schemas"]["MetricQueryResultEnvelope"];
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
    listDashboards: {
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
                 * @description Order: comma-separated `field:direction` pairs over `name`, `created_at`, `updated_at`; ties broken by `id`. Default `name:asc`. Each field may appear once; a repeated field is refused with 400.
                 * @example updated_at:desc
                 */
                sort?: components["parameters"]["DashboardSort"];
                /**
                 * @description Only resources of this team (one of the caller's).
                 * @example 0192f0a0-0000-7000-8000-00000000000a
                 */
                team_id?: components["parameters"]["TeamIdFilter"];
                /**
                 * @description Only dashboards whose name contains this text (any case). Reserved characters may be sent unencoded (`allowReserved`), and `+` stands for a space, as HTML forms and `URLSearchParams` encode one.
                 * @example fleet
                 */
                search?: components["parameters"]["DashboardSearch"];
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
            /** @description A page of dashboards. */
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
                    "application/json": components["schemas"]["DashboardListEnvelope"];
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
    createDashboard: {
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
        /** @description A new dashboard. `team_id` may be left out when the caller belongs to exactly one team. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["DashboardCreate"];
            };
        };
        responses: {
            /** @description The dashboard was created; `Location` is its path. */
            201: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    Location: components["headers"]["LocationDashboard"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    "Idempotent-Replayed": components["headers"]["IdempotentReplayed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DashboardEnvelope"];
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
    getDashboard: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description The `ETag` of a representation you hold; the answer is `304 Not Modified` (no body) while it is current.
                 * @example "x3mY9qLr0Zt1b8VwKc2PjA"
                 */
                "If-None-Match"?: components["parameters"]["IfNoneMatch"];
                /**
                 * @description An HTTP date, usually the `Last-Modified` of a representation you hold: the answer is `304 Not Modified`
                 *     (no body) unless the resource changed after it (to the second, as HTTP dates go). Ignored when
                 *     `If-None-Match` is sent (the more precise check), when the value is not an HTTP date, and when the request
                 *     carries `Cache-Control: no-cache`, which `fetch()` adds to a request with a conditional header unless you set
                 *     `Cache-Control` yourself (e.g. `max-age=0`).
                 * @example Fri, 20 Nov 2026 17:02:12 GMT
                 */
                "If-Modified-Since"?: components["parameters"]["IfModifiedSince"];
            };
            path: {
                /**
                 * @description The dashboard's id.
                 * @example 0192f3c0-1a2b-7c3d-8e4f-5a6b7c8d9e0f
                 */
                dashboard_id: components["parameters"]["DashboardId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The dashboard. */
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
                    "application/json": components["schemas"]["DashboardEnvelope"];
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
    deleteDashboard: {
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
                 * @description The dashboard's id.
                 * @example 0192f3c0-1a2b-7c3d-8e4f-5a6b7c8d9e0f
                 */
                dashboard_id: components["parameters"]["DashboardId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The dashboard was deleted. */
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
    updateDashboard: {
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
                 * @description The dashboard's id.
                 * @example 0192f3c0-1a2b-7c3d-8e4f-5a6b7c8d9e0f
                 */
                dashboard_id: components["parameters"]["DashboardId"];
            };
            cookie?: never;
        };
        /** @description A JSON merge patch of a dashboard; a dashboard never changes team. */
        requestBody: {
            content: {
                "application/merge-patch+json": components["schemas"]["DashboardPatch"];
                "application/json": components["schemas"]["DashboardPatch"];
            };
        };
        responses: {
            /** @description The dashboard as it now is. */
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
                    "application/json": components["schemas"]["DashboardEnvelope"];
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
    getDashboardData: {
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
                 * @description The dashboard's id.
                 * @example 0192f3c0-1a2b-7c3d-8e4f-5a6b7c8d9e0f
                 */
                dashboard_id: components["parameters"]["DashboardId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The panels with their answers. */
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
                    "application/json": components["schemas"]["DashboardDataEnvelope"];
                };
            };
            304: components["responses"]["NotModified"];
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            422: components["responses"]["UnprocessableEntity"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    listPackageVulnerabilities: {
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
                 * @description Order of the list: comma-separated `field:direction` pairs, most significant first. Sortable fields: `severity`
                 *     (`unknown` < `low` < `medium` < `high` < `critical`), `hostname`, `name` (the package's), `advisory_id`;
                 *     directions `asc` and `desc`. Default `severity:desc,hostname:asc,name:asc`. Each field may appear once; a
                 *     repeated field is refused with 400.
                 * @example severity:desc,hostname:asc
                 */
                sort?: components["parameters"]["PackageVulnerabilitySort"];
                /**
                 * @description Only vulnerabilities of this severity.
                 * @example critical
                 */
                severity?: components["parameters"]["VulnerabilitySeverityFilter"];
                /**
                 * @description Only vulnerabilities of the advisory with this id or alias (`DSA-5532-1`, `CVE-2023-5678`).
                 * @example CVE-2023-5678
                 */
                advisory_id?: components["parameters"]["AdvisoryIdFilter"];
                /**
                 * @description Only packages with exactly this name.
                 * @example openssl
                 */
                name?: components["parameters"]["PackageNameFilter"];
                /**
                 * @description Only packages of this ecosystem, exactly as stored (`Debian:12`, `npm`).
                 * @example Debian:12
                 */
                ecosystem?: components["parameters"]["EcosystemFilter"];
                /**
                 * @description Only vulnerable packages of this agent.
                 * @example 0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d
                 */
                agent_id?: components["parameters"]["VulnerabilityAgentIdFilter"];
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
            /** @description A page of vulnerable packages. */
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
                    "application/json": components["schemas"]["PackageVulnerabilityListEnvelope"];
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
    importAdvisories: {
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
        /** @description Up to 500 OSV advisories; see `importAdvisories`. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["AdvisoryImport"];
            };
        };
        responses: {
            /** @description Every advisory was imported; `results` says what became of each and how many packages it affects. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    "Idempotent-Replayed": components["headers"]["IdempotentReplayed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AdvisoryImportResultEnvelope"];
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
    listAgentVulnerabilities: {
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
                 * @description Order of the list: comma-separated `field:direction` pairs, most significant first. Sortable fields: `severity`
                 *     (`unknown` < `low` < `medium` < `high` < `critical`), `hostname`, `name` (the package's), `advisory_id`;
                 *     directions `asc` and `desc`. Default `severity:desc,hostname:asc,name:asc`. Each field may appear once; a
                 *     repeated field is refused with 400.
                 * @example severity:desc,hostname:asc
                 */
                sort?: components["parameters"]["PackageVulnerabilitySort"];
                /**
                 * @description Only vulnerabilities of this severity.
                 * @example critical
                 */
                severity?: components["parameters"]["VulnerabilitySeverityFilter"];
                /**
                 * @description Only vulnerabilities of the advisory with this id or alias (`DSA-5532-1`, `CVE-2023-5678`).
                 * @example CVE-2023-5678
                 */
                advisory_id?: components["parameters"]["AdvisoryIdFilter"];
                /**
                 * @description Only packages with exactly this name.
                 * @example openssl
                 */
                name?: components["parameters"]["PackageNameFilter"];
                /**
                 * @description Only packages of this ecosystem, exactly as stored (`Debian:12`, `npm`).
                 * @example Debian:12
                 */
                ecosystem?: components["parameters"]["EcosystemFilter"];
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
                 * @description The agent's id.
                 * @example 0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d
                 */
                agent_id: components["parameters"]["AgentId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of the agent's vulnerable packages. */
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
                    "application/json": components["schemas"]["PackageVulnerabilityListEnvelope"];
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
    listDeployments: {
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
                sort?: components["parameters"]["DeploymentSort"];
                /**
                 * @description Trims every item to these fields (comma-separated); `id` is always kept.
                 * @example [
                 *       "id",
                 *       "service",
                 *       "status"
                 *     ]
                 */
                fields?: components["parameters"]["DeploymentFieldsParam"];
                /**
                 * @description Only deployments to this environment.
                 * @example production
                 */
                environment?: components["parameters"]["EnvironmentFilter"];
                /**
                 * @description Only deployments in this status.
                 * @example failed
                 */
                status?: components["parameters"]["DeploymentStatusFilter"];
                /**
                 * @description Only deployments of this service (exact name).
                 * @example api-gateway
                 */
                service?: components["parameters"]["ServiceFilter"];
                /**
                 * @description Only resources of this team (one of the caller's).
                 * @example 0192f0a0-0000-7000-8000-00000000000a
                 */
                team_id?: components["parameters"]["TeamIdFilter"];
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
            /** @description A page of deployments. */
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
                    "application/json": components["schemas"]["DeploymentListEnvelope"];
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
    createDeployment: {
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
        /**
         * @description A new deployment; it starts `pending`. Its `previous_version` is found, not sent: the version of the
         *     service's last succeeded deployment in the same environment.
         */
        requestBody: {
            content: {
                "application/json": components["schemas"]["DeploymentCreate"];
            };
        };
        responses: {
            /** @description The deployment. */
            201: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    Location: components["headers"]["LocationDeployment"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    "Idempotent-Replayed": components["headers"]["IdempotentReplayed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["DeploymentEnvelope"];
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
    getDeployment: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description The `ETag` of a representation you hold; the answer is `304 Not Modified` (no body) while it is current.
                 * @example "x3mY9qLr0Zt1b8VwKc2PjA"
                 */
                "If-None-Match"?: components["parameters"]["IfNoneMatch"];
                /**
                 * @description An HTTP date, usually the `Last-Modified` of a representation you hold: the answer is `304 Not Modified`
                 *     (no body) unless the resource changed after it (to the second, as HTTP dates go). Ignored when
                 *     `If-None-Match` is sent (the more precise check), when the value is not an HTTP date, and when the request
                 *     carries `Cache-Control: no-cache`, which `fetch()` adds to a request with a conditional header unless you set
                 *     `Cache-Control` yourself (e.g. `max-age=0`).
                 * @example Fri, 20 Nov 2026 17:02:12 GMT
                 */
                "If-Modified-Since"?: components["parameters"]["IfModifiedSince"];
            };
            path: {
                /**
                 * @description The deployment's id.
                 * @example 0192f2b0-5c6d-7e8f-9a0b-1c2d3e4f5a6b
                 */
                deployment_id: components["parameters"]["DeploymentId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The deployment. */
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
                    "application/json": components["schemas"]["DeploymentEnvelope"];
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
    updateDeployment: {
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
                 * @description The deployment's id.
                 * @example 0192f2b0-5c6d-7e8f-9a0b-1c2d3e4f5a6b
                 */
                deployment_id: components["parameters"]["DeploymentId"];
            };
            cookie?: never;
        };
        /**
         * @description A JSON merge patch (RFC 7396) of a deployment's progress. Only `status` changes, and only along
         *     `pending` → `running` → `succeeded` or `failed`; the timings follow (`started_at` on `running`,
         *     `finished_at` and `duration_seconds` on `succeeded` or `failed`). The current status again changes
         *     nothing; any other change is `409 BIZ_DEPLOYMENT_INVALID_TRANSITION`. An empty patch changes nothing.
         */
        requestBody: {
            content: {
                "application/merge-patch+json": components["schemas"]["DeploymentPatch"];
                "application/json": components["schemas"]["DeploymentPatch"];
            };
        };
        responses: {
            /** @description The deployment as it now is. */
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
                    "application/json": components["schemas"]["DeploymentEnvelope"];
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
    rollbackDeployment: {
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
                 * @description The deployment's id.
                 * @example 0192f2b0-5c6d-7e8f-9a0b-1c2d3e4f5a6b
                 */
                deployment_id: components["parameters"]["DeploymentId"];
            };
            cookie?: never;
        };
        /** @description Optional: why, and on whose behalf (`requested_by` defaults to the caller's email). An empty body, or none, is a rollback without a reason. */
        requestBody?: {
            content: {
                "application/json": components["schemas"]["RollbackRequest"];
            };
        };
        responses: {
            /** @description Accepted: the rollback deployment was created; `Location` is its status URL. */
            202: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    Location: components["headers"]["LocationRollback"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    "Idempotent-Replayed": components["headers"]["IdempotentReplayed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["RollbackAcceptedEnvelope"];
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
    listPipelines: {
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
                 * @description Comma-separated `field:direction` keys over `name`, `status`, `created_at` and `updated_at` (default `created_at:desc`); ties broken by `id`. Each field may appear once; a repeated field is refused with 400.
                 * @example name:asc
                 */
                sort?: components["parameters"]["PipelineSort"];
                /**
                 * @description Trims every item to these fields (comma-separated); `id` is always kept.
                 * @example [
                 *       "id",
                 *       "name",
                 *       "status"
                 *     ]
                 */
                fields?: components["parameters"]["PipelineFieldsParam"];
                /**
                 * @description Only pipelines in this status.
                 * @example active
                 */
                status?: components["parameters"]["PipelineStatusFilter"];
                /**
                 * @description Only resources of this team (one of the caller's).
                 * @example 0192f0a0-0000-7000-8000-00000000000a
                 */
                team_id?: components["parameters"]["TeamIdFilter"];
                /**
                 * @description Only pipelines whose name or repository contains this text (any case). Reserved characters may be sent unencoded (`allowReserved`), and `+` stands for a space, as HTML forms and `URLSearchParams` encode one.
                 * @example gateway
                 */
                search?: components["parameters"]["PipelineSearch"];
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
            /** @description A page of pipelines. */
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
                    "application/json": components["schemas"]["PipelineListEnvelope"];
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
    createPipeline: {
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
        /** @description A new pipeline. Fields left out take their defaults (`branch` main, `status` active). */
        requestBody: {
            content: {
                "application/json": components["schemas"]["PipelineCreate"];
            };
        };
        responses: {
            /** @description The pipeline. */
            201: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    Location: components["headers"]["LocationPipeline"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    "Idempotent-Replayed": components["headers"]["IdempotentReplayed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["PipelineEnvelope"];
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
    updatePipelines: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** @description A change applied at once, in one statement, to every pipeline of the caller's teams that the filter matches. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["PipelineBulkUpdate"];
            };
        };
        responses: {
            /** @description What the bulk update did. */
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
                    "application/json": components["schemas"]["PipelineBulkResultEnvelope"];
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
    getPipeline: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description The `ETag` of a representation you hold; the answer is `304 Not Modified` (no body) while it is current.
                 * @example "x3mY9qLr0Zt1b8VwKc2PjA"
                 */
                "If-None-Match"?: components["parameters"]["IfNoneMatch"];
                /**
                 * @description An HTTP date, usually the `Last-Modified` of a representation you hold: the answer is `304 Not Modified`
                 *     (no body) unless the resource changed after it (to the second, as HTTP dates go). Ignored when
                 *     `If-None-Match` is sent (the more precise check), when the value is not an HTTP date, and when the request
                 *     carries `Cache-Control: no-cache`, which `fetch()` adds to a request with a conditional header unless you set
                 *     `Cache-Control` yourself (e.g. `max-age=0`).
                 * @example Fri, 20 Nov 2026 17:02:12 GMT
                 */
                "If-Modified-Since"?: components["parameters"]["IfModifiedSince"];
            };
            path: {
                /**
                 * @description The pipeline's id.
                 * @example 0192f3a0-2b3c-7d4e-8f50-6a7b8c9d0e1f
                 */
                pipeline_id: components["parameters"]["PipelineId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The pipeline. */
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
                    "application/json": components["schemas"]["PipelineEnvelope"];
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
    deletePipeline: {
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
                 * @description The pipeline's id.
                 * @example 0192f3a0-2b3c-7d4e-8f50-6a7b8c9d0e1f
                 */
                pipeline_id: components["parameters"]["PipelineId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The pipeline was deleted. */
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
    updatePipeline: {
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
                 * @description The pipeline's id.
                 * @example 0192f3a0-2b3c-7d4e-8f50-6a7b8c9d0e1f
                 */
                pipeline_id: components["parameters"]["PipelineId"];
            };
            cookie?: never;
        };
        /**
         * @description A JSON merge patch (RFC 7396): fields present are set, fields left out stay as they are. An empty patch
         *     changes nothing.
         */
        requestBody: {
            content: {
                "application/merge-patch+json": components["schemas"]["PipelinePatch"];
                "application/json": components["schemas"]["PipelinePatch"];
            };
        };
        responses: {
            /** @description The pipeline as it now is. */
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
                    "application/json": components["schemas"]["PipelineEnvelope"];
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
    listPipelineRuns: {
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
                 * @description Order by `number` (default `number:desc`, the latest run first), `asc` or `desc`.
                 * @example number:desc
                 */
                sort?: components["parameters"]["PipelineRunSort"];
                /**
                 * @description Trims every item to these fields (comma-separated); `id` is always kept.
                 * @example [
                 *       "id",
                 *       "number",
                 *       "status"
                 *     ]
                 */
                fields?: components["parameters"]["PipelineRunFieldsParam"];
                /**
                 * @description Only runs in this status.
                 * @example failed
                 */
                status?: components["parameters"]["PipelineRunStatusFilter"];
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
                 * @description The pipeline's id.
                 * @example 0192f3a0-2b3c-7d4e-8f50-6a7b8c9d0e1f
                 */
                pipeline_id: components["parameters"]["PipelineId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of runs. */
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
                    "application/json": components["schemas"]["PipelineRunListEnvelope"];
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
    createPipelineRun: {
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
                 * @description The pipeline's id.
                 * @example 0192f3a0-2b3c-7d4e-8f50-6a7b8c9d0e1f
                 */
                pipeline_id: components["parameters"]["PipelineId"];
            };
            cookie?: never;
        };
        /** @description A new run of the pipeline on a commit; it is queued. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["PipelineRunCreate"];
            };
        };
        responses: {
            /** @description The run, queued. */
            201: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    Location: components["headers"]["LocationPipelineRun"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    "Idempotent-Replayed": components["headers"]["IdempotentReplayed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["PipelineRunEnvelope"];
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
    getPipelineRun: {
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
                 * @description The pipeline's id.
                 * @example 0192f3a0-2b3c-7d4e-8f50-6a7b8c9d0e1f
                 */
                pipeline_id: components["parameters"]["PipelineId"];
                /**
                 * @description The run's id.
                 * @example 0192f3b1-3c4d-7e5f-8a61-7b8c9d0e1f2a
                 */
                run_id: components["parameters"]["PipelineRunId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The run, as it now is. */
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
                    "application/json": components["schemas"]["PipelineRunEnvelope"];
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
    updatePipelineRun: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The pipeline's id.
                 * @example 0192f3a0-2b3c-7d4e-8f50-6a7b8c9d0e1f
                 */
                pipeline_id: components["parameters"]["PipelineId"];
                /**
                 * @description The run's id.
                 * @example 0192f3b1-3c4d-7e5f-8a61-7b8c9d0e1f2a
                 */
                run_id: components["parameters"]["PipelineRunId"];
            };
            cookie?: never;
        };
        /**
         * @description A JSON merge patch (RFC 7396) of a run's progress, as the CI runner reports it. Only `status` changes:
         *     `queued` → `running` → `succeeded` or `failed`, and `cancelled` from `queued` or `running`; the timings follow.
         *     The current status again changes nothing; any other change is `409 BIZ_PIPELINE_RUN_INVALID_TRANSITION`.
         *     An empty patch changes nothing.
         */
        requestBody: {
            content: {
                "application/merge-patch+json": components["schemas"]["PipelineRunPatch"];
                "application/json": components["schemas"]["PipelineRunPatch"];
            };
        };
        responses: {
            /** @description The run as it now is. */
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
                    "application/json": components["schemas"]["PipelineRunEnvelope"];
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
    listAlerts: {
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
                 *     `created_at`, `updated_at` and `severity` (by urgency: `info` < `warning` < `critical`, so
                 *     `severity:desc` puts critical alerts first); directions `asc` and `desc`. Ties are broken by `id`.
                 *     Default `created_at:desc`.
                 *     Each field may appear once; a repeated field is refused with 400.
                 * @example severity:desc,created_at:desc
                 */
                sort?: components["parameters"]["AlertSort"];
                /**
                 * @description Trims every item to these fields (comma-separated); `id` is always kept.
                 * @example [
                 *       "id",
                 *       "title",
                 *       "status"
                 *     ]
                 */
                fields?: components["parameters"]["AlertFieldsParam"];
                /**
                 * @description Only alerts of this severity.
                 * @example critical
                 */
                severity?: components["parameters"]["AlertSeverityFilter"];
                /**
                 * @description Only alerts in this status.
                 * @example open
                 */
                status?: components["parameters"]["AlertStatusFilter"];
                /**
                 * @description Only alerts about this agent.
                 * @example 0192f0c1-7c1e-7d3a-9b7e-3f1c2a4b5c6d
                 */
                agent_id?: components["parameters"]["AlertAgentIdFilter"];
                /**
                 * @description Only resources of this team (one of the caller's).
                 * @example 0192f0a0-0000-7000-8000-00000000000a
                 */
                team_id?: components["parameters"]["TeamIdFilter"];
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
            /** @description A page of alerts. */
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
                    "application/json": components["schemas"]["AlertListEnvelope"];
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
    createAlert: {
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
        /**
         * @description A new alert; it starts `open`. `team_id` may be left out when `agent_id` names the agent (the alert goes
         *     to the agent's team) or when the caller belongs to exactly one team. `createAlerts` checks each of its
         *     items against this schema, one by one.
         */
        requestBody: {
            content: {
                "application/json": components["schemas"]["AlertCreate"];
            };
        };
        responses: {
            /** @description The alert was raised; `Location` is its path. */
            201: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    Location: components["headers"]["LocationAlert"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    "Idempotent-Replayed": components["headers"]["IdempotentReplayed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AlertEnvelope"];
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
    createAlerts: {
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
        /**
         * @description Up to 1,000 new alerts in one request. A body whose shape is wrong (no `alerts`, none or more than 1,000
         *     of them, an item that is not an object, has an unknown field, or a field that is an object, an array or
         *     too long) is refused as a whole with `422`, and a body over the server's size limit with `413`; nothing is
         *     created. Otherwise each item is checked and stored on its own: see `createAlerts`.
         */
        requestBody: {
            content: {
                "application/json": components["schemas"]["AlertBulkCreate"];
            };
        };
        responses: {
            /** @description Every item was checked; `results` says which were created and why the others failed. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    "Idempotent-Replayed": components["headers"]["IdempotentReplayed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AlertBulkResultEnvelope"];
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
    getAlert: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description The `ETag` of a representation you hold; the answer is `304 Not Modified` (no body) while it is current.
                 * @example "x3mY9qLr0Zt1b8VwKc2PjA"
                 */
                "If-None-Match"?: components["parameters"]["IfNoneMatch"];
                /**
                 * @description An HTTP date, usually the `Last-Modified` of a representation you hold: the answer is `304 Not Modified`
                 *     (no body) unless the resource changed after it (to the second, as HTTP dates go). Ignored when
                 *     `If-None-Match` is sent (the more precise check), when the value is not an HTTP date, and when the request
                 *     carries `Cache-Control: no-cache`, which `fetch()` adds to a request with a conditional header unless you set
                 *     `Cache-Control` yourself (e.g. `max-age=0`).
                 * @example Fri, 20 Nov 2026 17:02:12 GMT
                 */
                "If-Modified-Since"?: components["parameters"]["IfModifiedSince"];
            };
            path: {
                /**
                 * @description The alert's id.
                 * @example 0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60
                 */
                alert_id: components["parameters"]["AlertId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The alert, as it now is. */
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
                    "application/json": components["schemas"]["AlertEnvelope"];
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
    acknowledgeAlert: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The alert's id.
                 * @example 0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60
                 */
                alert_id: components["parameters"]["AlertId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The alert, now acknowledged. */
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
                    "application/json": components["schemas"]["AlertEnvelope"];
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
    resolveAlert: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The alert's id.
                 * @example 0192f2b0-4c5d-7e6f-8a90-1b2c3d4e5f60
                 */
                alert_id: components["parameters"]["AlertId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The alert, now resolved. */
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
                    "application/json": components["schemas"]["AlertEnvelope"];
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
    listAlertRules: {
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
                 * @description Order: comma-separated `field:direction` pairs over `created_at`, `updated_at`; ties broken by `id`. Default `created_at:desc`. Each field may appear once; a repeated field is refused with 400.
                 * @example created_at:desc
                 */
                sort?: components["parameters"]["AlertRuleSort"];
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
            /** @description A page of alert rules. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    Link: components["headers"]["Link"];
                    ETag: components["headers"]["ETag"];
                    "Cache-Control": components["headers"]["CacheControl"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AlertRuleListEnvelope"];
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
    createAlertRule: {
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
        /** @description A new alert rule. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["AlertRuleCreate"];
            };
        };
        responses: {
            /** @description The alert rule was created; `Location` is its path. */
            201: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    Location: components["headers"]["LocationAlertRule"];
                    "Idempotent-Replayed": components["headers"]["IdempotentReplayed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AlertRuleEnvelope"];
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
    getAlertRule: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description The `ETag` of a representation you hold; the answer is `304 Not Modified` (no body) while it is current.
                 * @example "x3mY9qLr0Zt1b8VwKc2PjA"
                 */
                "If-None-Match"?: components["parameters"]["IfNoneMatch"];
                /**
                 * @description An HTTP date, usually the `Last-Modified` of a representation you hold: the answer is `304 Not Modified`
                 *     (no body) unless the resource changed after it (to the second, as HTTP dates go). Ignored when
                 *     `If-None-Match` is sent (the more precise check), when the value is not an HTTP date, and when the request
                 *     carries `Cache-Control: no-cache`, which `fetch()` adds to a request with a conditional header unless you set
                 *     `Cache-Control` yourself (e.g. `max-age=0`).
                 * @example Fri, 20 Nov 2026 17:02:12 GMT
                 */
                "If-Modified-Since"?: components["parameters"]["IfModifiedSince"];
            };
            path: {
                /**
                 * @description The alert rule's id.
                 * @example 0192f4a0-1b2c-7d3e-8f40-5a6b7c8d9e01
                 */
                rule_id: components["parameters"]["AlertRuleId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The alert rule. */
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
                    "application/json": components["schemas"]["AlertRuleEnvelope"];
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
    deleteAlertRule: {
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
                 * @description The alert rule's id.
                 * @example 0192f4a0-1b2c-7d3e-8f40-5a6b7c8d9e01
                 */
                rule_id: components["parameters"]["AlertRuleId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The alert rule was deleted. */
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
    updateAlertRule: {
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
                 * @description The alert rule's id.
                 * @example 0192f4a0-1b2c-7d3e-8f40-5a6b7c8d9e01
                 */
                rule_id: components["parameters"]["AlertRuleId"];
            };
            cookie?: never;
        };
        /** @description The fields to change (JSON merge patch). */
        requestBody: {
            content: {
                "application/merge-patch+json": components["schemas"]["AlertRulePatch"];
                "application/json": components["schemas"]["AlertRulePatch"];
            };
        };
        responses: {
            /** @description The alert rule as it is now. */
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
                    "application/json": components["schemas"]["AlertRuleEnvelope"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            412: components["responses"]["PreconditionFailed"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            422: components["responses"]["UnprocessableEntity"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    listNotificationChannels: {
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
                 * @description Order: comma-separated `field:direction` pairs over `created_at`, `updated_at`; ties broken by `id`. Default `created_at:desc`. Each field may appear once; a repeated field is refused with 400.
                 * @example created_at:desc
                 */
                sort?: components["parameters"]["NotificationChannelSort"];
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
            /** @description A page of notification channels. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    Link: components["headers"]["Link"];
                    ETag: components["headers"]["ETag"];
                    "Cache-Control": components["headers"]["CacheControl"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["NotificationChannelListEnvelope"];
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
    createNotificationChannel: {
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
        /** @description A new notification channel. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["NotificationChannelCreate"];
            };
        };
        responses: {
            /** @description The notification channel was created; `Location` is its path. */
            201: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    Location: components["headers"]["LocationNotificationChannel"];
                    "Idempotent-Replayed": components["headers"]["IdempotentReplayed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["NotificationChannelEnvelope"];
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
    getNotificationChannel: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description The `ETag` of a representation you hold; the answer is `304 Not Modified` (no body) while it is current.
                 * @example "x3mY9qLr0Zt1b8VwKc2PjA"
                 */
                "If-None-Match"?: components["parameters"]["IfNoneMatch"];
                /**
                 * @description An HTTP date, usually the `Last-Modified` of a representation you hold: the answer is `304 Not Modified`
                 *     (no body) unless the resource changed after it (to the second, as HTTP dates go). Ignored when
                 *     `If-None-Match` is sent (the more precise check), when the value is not an HTTP date, and when the request
                 *     carries `Cache-Control: no-cache`, which `fetch()` adds to a request with a conditional header unless you set
                 *     `Cache-Control` yourself (e.g. `max-age=0`).
                 * @example Fri, 20 Nov 2026 17:02:12 GMT
                 */
                "If-Modified-Since"?: components["parameters"]["IfModifiedSince"];
            };
            path: {
                /**
                 * @description The notification channel's id.
                 * @example 0192f4b0-2c3d-7e4f-9a50-6b7c8d9e0f12
                 */
                channel_id: components["parameters"]["NotificationChannelId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The notification channel. */
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
                    "application/json": components["schemas"]["NotificationChannelEnvelope"];
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
    deleteNotificationChannel: {
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
                 * @description The notification channel's id.
                 * @example 0192f4b0-2c3d-7e4f-9a50-6b7c8d9e0f12
                 */
                channel_id: components["parameters"]["NotificationChannelId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The notification channel was deleted. */
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
    updateNotificationChannel: {
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
                 * @description The notification channel's id.
                 * @example 0192f4b0-2c3d-7e4f-9a50-6b7c8d9e0f12
                 */
                channel_id: components["parameters"]["NotificationChannelId"];
            };
            cookie?: never;
        };
        /** @description The fields to change (JSON merge patch). */
        requestBody: {
            content: {
                "application/merge-patch+json": components["schemas"]["NotificationChannelPatch"];
                "application/json": components["schemas"]["NotificationChannelPatch"];
            };
        };
        responses: {
            /** @description The notification channel as it is now. */
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
                    "application/json": components["schemas"]["NotificationChannelEnvelope"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            412: components["responses"]["PreconditionFailed"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            422: components["responses"]["UnprocessableEntity"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    testNotificationChannel: {
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
                 * @description The notification channel's id.
                 * @example 0192f4b0-2c3d-7e4f-9a50-6b7c8d9e0f12
                 */
                channel_id: components["parameters"]["NotificationChannelId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Accepted: the test notification is queued as delivery `delivery_id` and sent (and retried) like any notification. */
            202: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    "Idempotent-Replayed": components["headers"]["IdempotentReplayed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["NotificationTestEnvelope"];
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
    listAlertSilences: {
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
                 * @description Order: comma-separated `field:direction` pairs over `created_at`, `updated_at`; ties broken by `id`. Default `created_at:desc`. Each field may appear once; a repeated field is refused with 400.
                 * @example created_at:desc
                 */
                sort?: components["parameters"]["AlertSilenceSort"];
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
            /** @description A page of silences. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    Link: components["headers"]["Link"];
                    ETag: components["headers"]["ETag"];
                    "Cache-Control": components["headers"]["CacheControl"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AlertSilenceListEnvelope"];
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
    createAlertSilence: {
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
        /** @description A new silence. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["AlertSilenceCreate"];
            };
        };
        responses: {
            /** @description The silence was created; `Location` is its path. */
            201: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    Location: components["headers"]["LocationAlertSilence"];
                    "Idempotent-Replayed": components["headers"]["IdempotentReplayed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["AlertSilenceEnvelope"];
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
    getAlertSilence: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description The `ETag` of a representation you hold; the answer is `304 Not Modified` (no body) while it is current.
                 * @example "x3mY9qLr0Zt1b8VwKc2PjA"
                 */
                "If-None-Match"?: components["parameters"]["IfNoneMatch"];
                /**
                 * @description An HTTP date, usually the `Last-Modified` of a representation you hold: the answer is `304 Not Modified`
                 *     (no body) unless the resource changed after it (to the second, as HTTP dates go). Ignored when
                 *     `If-None-Match` is sent (the more precise check), when the value is not an HTTP date, and when the request
                 *     carries `Cache-Control: no-cache`, which `fetch()` adds to a request with a conditional header unless you set
                 *     `Cache-Control` yourself (e.g. `max-age=0`).
                 * @example Fri, 20 Nov 2026 17:02:12 GMT
                 */
                "If-Modified-Since"?: components["parameters"]["IfModifiedSince"];
            };
            path: {
                /**
                 * @description The silence's id.
                 * @example 0192f4c0-3d4e-7f50-8a60-7c8d9e0f1a23
                 */
                silence_id: components["parameters"]["AlertSilenceId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The silence. */
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
                    "application/json": components["schemas"]["AlertSilenceEnvelope"];
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
    deleteAlertSilence: {
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
                 * @description The silence's id.
                 * @example 0192f4c0-3d4e-7f50-8a60-7c8d9e0f1a23
                 */
                silence_id: components["parameters"]["AlertSilenceId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The silence was deleted. */
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
    updateAlertSilence: {
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
                 * @description The silence's id.
                 * @example 0192f4c0-3d4e-7f50-8a60-7c8d9e0f1a23
                 */
                silence_id: components["parameters"]["AlertSilenceId"];
            };
            cookie?: never;
        };
        /** @description The fields to change (JSON merge patch). */
        requestBody: {
            content: {
                "application/merge-patch+json": components["schemas"]["AlertSilencePatch"];
                "application/json": components["schemas"]["AlertSilencePatch"];
            };
        };
        responses: {
            /** @description The silence as it is now. */
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
                    "application/json": components["schemas"]["AlertSilenceEnvelope"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            412: components["responses"]["PreconditionFailed"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            422: components["responses"]["UnprocessableEntity"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    listWebhooks: {
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
                 * @description Order of the list: comma-separated `field:direction` pairs; sortable fields `created_at` and `updated_at`. Ties are broken by `id`. Default `created_at:desc`. Each field may appear once; a repeated field is refused with 400.
                 * @example updated_at:desc
                 */
                sort?: components["parameters"]["WebhookSort"];
                /**
                 * @description Only resources of this team (one of the caller's).
                 * @example 0192f0a0-0000-7000-8000-00000000000a
                 */
                team_id?: components["parameters"]["TeamIdFilter"];
                /**
                 * @description Only webhooks that deliver (`true`) or that are off (`false`), for example to find the ones Opsdeck disabled.
                 * @example false
                 */
                active?: components["parameters"]["WebhookActiveFilter"];
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
            /** @description A page of webhooks. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    Link: components["headers"]["Link"];
                    ETag: components["headers"]["ETag"];
                    "Cache-Control": components["headers"]["CacheControl"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WebhookListEnvelope"];
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
    createWebhook: {
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
        /** @description The endpoint, the event types it wants and, optionally, your own secret. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["WebhookCreate"];
            };
        };
        responses: {
            /** @description The webhook was registered; `Location` is its path. Store `secret` now: it is not shown again. */
            201: {
                headers: {
                    "Cache-Control": components["headers"]["CacheControlNoStore"];
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    Location: components["headers"]["LocationWebhook"];
                    "Idempotent-Replayed": components["headers"]["IdempotentReplayed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WebhookCreatedEnvelope"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            409: components["responses"]["Conflict"];
            415: components["responses"]["UnsupportedMediaType"];
            422: components["responses"]["UnprocessableEntity"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    getWebhook: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description The `ETag` of a representation you hold; the answer is `304 Not Modified` (no body) while it is current.
                 * @example "x3mY9qLr0Zt1b8VwKc2PjA"
                 */
                "If-None-Match"?: components["parameters"]["IfNoneMatch"];
                /**
                 * @description An HTTP date, usually the `Last-Modified` of a representation you hold: the answer is `304 Not Modified`
                 *     (no body) unless the resource changed after it (to the second, as HTTP dates go). Ignored when
                 *     `If-None-Match` is sent (the more precise check), when the value is not an HTTP date, and when the request
                 *     carries `Cache-Control: no-cache`, which `fetch()` adds to a request with a conditional header unless you set
                 *     `Cache-Control` yourself (e.g. `max-age=0`).
                 * @example Fri, 20 Nov 2026 17:02:12 GMT
                 */
                "If-Modified-Since"?: components["parameters"]["IfModifiedSince"];
            };
            path: {
                /**
                 * @description The webhook's id.
                 * @example 0192f3c0-2d4e-7f60-8a1b-2c3d4e5f6a7b
                 */
                webhook_id: components["parameters"]["WebhookId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The webhook. */
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
                    "application/json": components["schemas"]["WebhookEnvelope"];
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
    deleteWebhook: {
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
                 * @description The webhook's id.
                 * @example 0192f3c0-2d4e-7f60-8a1b-2c3d4e5f6a7b
                 */
                webhook_id: components["parameters"]["WebhookId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The webhook was deleted. */
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
    updateWebhook: {
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
                 * @description The webhook's id.
                 * @example 0192f3c0-2d4e-7f60-8a1b-2c3d4e5f6a7b
                 */
                webhook_id: components["parameters"]["WebhookId"];
            };
            cookie?: never;
        };
        /** @description The fields to change (JSON merge patch). */
        requestBody: {
            content: {
                "application/merge-patch+json": components["schemas"]["WebhookPatch"];
                "application/json": components["schemas"]["WebhookPatch"];
            };
        };
        responses: {
            /** @description The webhook as it is now. */
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
                    "application/json": components["schemas"]["WebhookEnvelope"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            412: components["responses"]["PreconditionFailed"];
            415: components["responses"]["UnsupportedMediaType"];
            422: components["responses"]["UnprocessableEntity"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    pingWebhook: {
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
                 * @description The webhook's id.
                 * @example 0192f3c0-2d4e-7f60-8a1b-2c3d4e5f6a7b
                 */
                webhook_id: components["parameters"]["WebhookId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Accepted: the ping is queued; `Location` is the delivery. */
            202: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    Location: components["headers"]["LocationWebhookPing"];
                    "Idempotent-Replayed": components["headers"]["IdempotentReplayed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WebhookDeliveryEnvelope"];
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
    listWebhookDeliveries: {
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
                 * @description Order of the list: `created_at:desc` (newest first, the default) or `created_at:asc`. Ties are broken by `id`.
                 * @example created_at:desc
                 */
                sort?: components["parameters"]["WebhookDeliverySort"];
                /**
                 * @description Only deliveries in this status (`failed` ones are worth a look).
                 * @example failed
                 */
                status?: components["parameters"]["WebhookDeliveryStatusFilter"];
                /**
                 * @description Only deliveries of this event type (`webhook.ping` for pings).
                 * @example alert.triggered
                 */
                event?: components["parameters"]["WebhookDeliveryEventFilter"];
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
                 * @description The webhook's id.
                 * @example 0192f3c0-2d4e-7f60-8a1b-2c3d4e5f6a7b
                 */
                webhook_id: components["parameters"]["WebhookId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of deliveries. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    Link: components["headers"]["Link"];
                    ETag: components["headers"]["ETag"];
                    "Cache-Control": components["headers"]["CacheControl"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WebhookDeliveryListEnvelope"];
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
    getWebhookDelivery: {
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
                 * @description The webhook's id.
                 * @example 0192f3c0-2d4e-7f60-8a1b-2c3d4e5f6a7b
                 */
                webhook_id: components["parameters"]["WebhookId"];
                /**
                 * @description The delivery's id.
                 * @example 0192f3c4-9e8d-7c6b-8a59-4e3d2c1b0a99
                 */
                delivery_id: components["parameters"]["WebhookDeliveryId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The delivery with its payload and attempts. */
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
                    "application/json": components["schemas"]["WebhookDeliveryDetailEnvelope"];
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
    redeliverWebhookDelivery: {
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
                 * @description The webhook's id.
                 * @example 0192f3c0-2d4e-7f60-8a1b-2c3d4e5f6a7b
                 */
                webhook_id: components["parameters"]["WebhookId"];
                /**
                 * @description The delivery's id.
                 * @example 0192f3c4-9e8d-7c6b-8a59-4e3d2c1b0a99
                 */
                delivery_id: components["parameters"]["WebhookDeliveryId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Accepted: the redelivery is queued; `Location` is the new delivery. */
            202: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    Location: components["headers"]["LocationWebhookRedelivery"];
                    "Idempotent-Replayed": components["headers"]["IdempotentReplayed"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["WebhookDeliveryEnvelope"];
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
    streamEvents: {
        parameters: {
            query?: {
                /**
                 * @description The channels to receive, comma-separated; by default every channel the caller may read. Asking for a channel without its read permission (`x-permission` of `EventChannel`) is 403.
                 * @example [
                 *       "alerts",
                 *       "tasks"
                 *     ]
                 */
                channels?: components["parameters"]["EventChannels"];
                /**
                 * @description Only resources of this team (one of the caller's).
                 * @example 0192f0a0-0000-7000-8000-00000000000a
                 */
                team_id?: components["parameters"]["TeamIdFilter"];
                /**
                 * @description The same as the `Last-Event-ID` header, for clients that cannot set headers; the header wins when both are sent.
                 * @example 1842
                 */
                last_event_id?: components["parameters"]["LastEventIdQuery"];
            };
            header?: {
                /**
                 * @description Resume after this stream position: the `id:` of the last message received. Browsers' `EventSource` sends it by itself when it reconnects. Events of the replay window (`x-event-stream.replay_hours`) after it are sent first, then live ones.
                 * @example 1842
                 */
                "Last-Event-ID"?: components["parameters"]["LastEventId"];
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The stream: it stays open, and sends messages as events happen. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    "Cache-Control": components["headers"]["CacheControl"];
                    [name: string]: unknown;
                };
                content: {
                    "text/event-stream": string;
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
    openEventSocket: {
        parameters: {
            query?: never;
            header: {
                /**
                 * @description `websocket`: the protocol to switch to.
                 * @example websocket
                 */
                Upgrade: "websocket";
                /**
                 * @description The WebSocket protocol version, `13` (RFC 6455).
                 * @example 13
                 */
                "Sec-WebSocket-Version": "13";
                /**
                 * @description The client's nonce, 16 random bytes in base64 (browsers make it by themselves).
                 * @example dGhlIHNhbXBsZSBub25jZQ==
                 */
                "Sec-WebSocket-Key": string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Switching protocols: the connection is now a WebSocket; send `auth` first. */
            101: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    /**
                     * @description The digest of the client's `Sec-WebSocket-Key` that proves the server speaks WebSocket (RFC 6455 §4.2.2).
                     * @example s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
                     */
                    "Sec-WebSocket-Accept"?: string;
                    [name: string]: unknown;
                };
                content?: never;
            };
            400: components["responses"]["BadRequest"];
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
    getMetrics: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The metrics. */
            200: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    "Cache-Control": components["headers"]["CacheControlNoStore"];
                    "X-Content-Type-Options": components["headers"]["XContentTypeOptions"];
                    "Content-Security-Policy": components["headers"]["ContentSecurityPolicy"];
                    "Referrer-Policy": components["headers"]["ReferrerPolicy"];
                    "Strict-Transport-Security": components["headers"]["StrictTransportSecurity"];
                    [name: string]: unknown;
                };
                content: {
                    "text/plain; version=0.0.4": string;
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            500: components["responses"]["InternalError"];
        };
    };
    getIndex: {
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
            /** @description The index of this server. */
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
                    Vary: components["headers"]["Vary"];
                    "X-Content-Type-Options": components["headers"]["XContentTypeOptions"];
                    "Content-Security-Policy": components["headers"]["ContentSecurityPolicy"];
                    "Referrer-Policy": components["headers"]["ReferrerPolicy"];
                    "Strict-Transport-Security": components["headers"]["StrictTransportSecurity"];
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["ApiIndexEnvelope"];
                };
            };
            /** @description A browser asked (`Accept` prefers `text/html`); the docs are at `Location`. */
            303: {
                headers: {
                    "X-Request-ID": components["headers"]["XRequestId"];
                    "Access-Control-Allow-Origin": components["headers"]["AccessControlAllowOrigin"];
                    "X-RateLimit-Limit": components["headers"]["XRateLimitLimit"];
                    "X-RateLimit-Remaining": components["headers"]["XRateLimitRemaining"];
                    "X-RateLimit-Reset": components["headers"]["XRateLimitReset"];
                    "X-RateLimit-Bucket": components["headers"]["XRateLimitBucket"];
                    Location: components["headers"]["LocationDocs"];
                    Vary: components["headers"]["Vary"];
                    [name: string]: unknown;
                };
                content?: never;
            };
            304: components["responses"]["NotModified"];
            400: components["responses"]["BadRequest"];
            429: components["responses"]["TooManyRequests"];
            500: components["responses"]["InternalError"];
        };
    };
    onTaskCreated: {
        parameters: {
            query?: never;
            header: {
                /**
                 * @description The event type, as in the body's `event`.
                 * @example alert.triggered
                 */
                "X-Opsdeck-Event": components["parameters"]["XOpsdeckEvent"];
                /**
                 * @description The delivery's id: the same on every attempt of one delivery, new for a redelivery; use the body's `id` to drop duplicate events.
                 * @example 0192f3c4-9e8d-7c6b-8a59-4e3d2c1b0a99
                 */
                "X-Opsdeck-Delivery": components["parameters"]["XOpsdeckDelivery"];
                /**
                 * @description When this attempt was signed, in seconds since the epoch. Refuse deliveries whose timestamp is more than five minutes away from your clock: that stops replays of a captured request.
                 * @example 1795257000
                 */
                "X-Opsdeck-Timestamp": components["parameters"]["XOpsdeckTimestamp"];
                /**
                 * @description `sha256=` and the hex HMAC-SHA256, keyed with the webhook's secret, of the timestamp header, a `.`, and the raw body exactly as received. `verifyOpsdeckSignature(body, headers, secret)` of the SDK checks it (and the timestamp); compare in constant time if you check it yourself.
                 * @example sha256=5d9c68b9a1f8b2e6c4d3a2b1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1
                 */
                "X-Opsdeck-Signature": components["parameters"]["XOpsdeckSignature"];
                /**
                 * @description W3C Trace Context (https://www.w3.org/TR/trace-context/) of the request that caused the event, when the server
                 *     exports traces: the delivery attempt is a span of that trace, and this names it as the parent. Absent when
                 *     tracing is off.
                 * @example 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
                 */
                traceparent?: components["parameters"]["Traceparent"];
                /**
                 * @description W3C Trace Context vendor entries that came with the trace (`traceparent`), carried on unchanged.
                 * @example vendor=t61rcWkgMzE
                 */
                tracestate?: components["parameters"]["Tracestate"];
            };
            path?: never;
            cookie?: never;
        };
        /** @description The event: `{ id, event, timestamp, team_id, data }`. Verify the signature over these exact bytes before parsing them. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["TaskEvent"];
            };
        };
        responses: {
            /** @description Any 2xx acknowledges the delivery; its body is recorded (the first 1 KiB) and otherwise ignored. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Any other answer (a 4xx or 5xx, or none in time) fails the attempt; it is retried. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
        };
    };
    onTaskCompleted: {
        parameters: {
            query?: never;
            header: {
                /**
                 * @description The event type, as in the body's `event`.
                 * @example alert.triggered
                 */
                "X-Opsdeck-Event": components["parameters"]["XOpsdeckEvent"];
                /**
                 * @description The delivery's id: the same on every attempt of one delivery, new for a redelivery; use the body's `id` to drop duplicate events.
                 * @example 0192f3c4-9e8d-7c6b-8a59-4e3d2c1b0a99
                 */
                "X-Opsdeck-Delivery": components["parameters"]["XOpsdeckDelivery"];
                /**
                 * @description When this attempt was signed, in seconds since the epoch. Refuse deliveries whose timestamp is more than five minutes away from your clock: that stops replays of a captured request.
                 * @example 1795257000
                 */
                "X-Opsdeck-Timestamp": components["parameters"]["XOpsdeckTimestamp"];
                /**
                 * @description `sha256=` and the hex HMAC-SHA256, keyed with the webhook's secret, of the timestamp header, a `.`, and the raw body exactly as received. `verifyOpsdeckSignature(body, headers, secret)` of the SDK checks it (and the timestamp); compare in constant time if you check it yourself.
                 * @example sha256=5d9c68b9a1f8b2e6c4d3a2b1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1
                 */
                "X-Opsdeck-Signature": components["parameters"]["XOpsdeckSignature"];
                /**
                 * @description W3C Trace Context (https://www.w3.org/TR/trace-context/) of the request that caused the event, when the server
                 *     exports traces: the delivery attempt is a span of that trace, and this names it as the parent. Absent when
                 *     tracing is off.
                 * @example 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
                 */
                traceparent?: components["parameters"]["Traceparent"];
                /**
                 * @description W3C Trace Context vendor entries that came with the trace (`traceparent`), carried on unchanged.
                 * @example vendor=t61rcWkgMzE
                 */
                tracestate?: components["parameters"]["Tracestate"];
            };
            path?: never;
            cookie?: never;
        };
        /** @description The event: `{ id, event, timestamp, team_id, data }`. Verify the signature over these exact bytes before parsing them. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["TaskEvent"];
            };
        };
        responses: {
            /** @description Any 2xx acknowledges the delivery; its body is recorded (the first 1 KiB) and otherwise ignored. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Any other answer (a 4xx or 5xx, or none in time) fails the attempt; it is retried. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
        };
    };
    onTaskFailed: {
        parameters: {
            query?: never;
            header: {
                /**
                 * @description The event type, as in the body's `event`.
                 * @example alert.triggered
                 */
                "X-Opsdeck-Event": components["parameters"]["XOpsdeckEvent"];
                /**
                 * @description The delivery's id: the same on every attempt of one delivery, new for a redelivery; use the body's `id` to drop duplicate events.
                 * @example 0192f3c4-9e8d-7c6b-8a59-4e3d2c1b0a99
                 */
                "X-Opsdeck-Delivery": components["parameters"]["XOpsdeckDelivery"];
                /**
                 * @description When this attempt was signed, in seconds since the epoch. Refuse deliveries whose timestamp is more than five minutes away from your clock: that stops replays of a captured request.
                 * @example 1795257000
                 */
                "X-Opsdeck-Timestamp": components["parameters"]["XOpsdeckTimestamp"];
                /**
                 * @description `sha256=` and the hex HMAC-SHA256, keyed with the webhook's secret, of the timestamp header, a `.`, and the raw body exactly as received. `verifyOpsdeckSignature(body, headers, secret)` of the SDK checks it (and the timestamp); compare in constant time if you check it yourself.
                 * @example sha256=5d9c68b9a1f8b2e6c4d3a2b1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1
                 */
                "X-Opsdeck-Signature": components["parameters"]["XOpsdeckSignature"];
                /**
                 * @description W3C Trace Context (https://www.w3.org/TR/trace-context/) of the request that caused the event, when the server
                 *     exports traces: the delivery attempt is a span of that trace, and this names it as the parent. Absent when
                 *     tracing is off.
                 * @example 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
                 */
                traceparent?: components["parameters"]["Traceparent"];
                /**
                 * @description W3C Trace Context vendor entries that came with the trace (`traceparent`), carried on unchanged.
                 * @example vendor=t61rcWkgMzE
                 */
                tracestate?: components["parameters"]["Tracestate"];
            };
            path?: never;
            cookie?: never;
        };
        /** @description The event: `{ id, event, timestamp, team_id, data }`. Verify the signature over these exact bytes before parsing them. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["TaskEvent"];
            };
        };
        responses: {
            /** @description Any 2xx acknowledges the delivery; its body is recorded (the first 1 KiB) and otherwise ignored. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Any other answer (a 4xx or 5xx, or none in time) fails the attempt; it is retried. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
        };
    };
    onTaskCancelled: {
        parameters: {
            query?: never;
            header: {
                /**
                 * @description The event type, as in the body's `event`.
                 * @example alert.triggered
                 */
                "X-Opsdeck-Event": components["parameters"]["XOpsdeckEvent"];
                /**
                 * @description The delivery's id: the same on every attempt of one delivery, new for a redelivery; use the body's `id` to drop duplicate events.
                 * @example 0192f3c4-9e8d-7c6b-8a59-4e3d2c1b0a99
                 */
                "X-Opsdeck-Delivery": components["parameters"]["XOpsdeckDelivery"];
                /**
                 * @description When this attempt was signed, in seconds since the epoch. Refuse deliveries whose timestamp is more than five minutes away from your clock: that stops replays of a captured request.
                 * @example 1795257000
                 */
                "X-Opsdeck-Timestamp": components["parameters"]["XOpsdeckTimestamp"];
                /**
                 * @description `sha256=` and the hex HMAC-SHA256, keyed with the webhook's secret, of the timestamp header, a `.`, and the raw body exactly as received. `verifyOpsdeckSignature(body, headers, secret)` of the SDK checks it (and the timestamp); compare in constant time if you check it yourself.
                 * @example sha256=5d9c68b9a1f8b2e6c4d3a2b1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1
                 */
                "X-Opsdeck-Signature": components["parameters"]["XOpsdeckSignature"];
                /**
                 * @description W3C Trace Context (https://www.w3.org/TR/trace-context/) of the request that caused the event, when the server
                 *     exports traces: the delivery attempt is a span of that trace, and this names it as the parent. Absent when
                 *     tracing is off.
                 * @example 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
                 */
                traceparent?: components["parameters"]["Traceparent"];
                /**
                 * @description W3C Trace Context vendor entries that came with the trace (`traceparent`), carried on unchanged.
                 * @example vendor=t61rcWkgMzE
                 */
                tracestate?: components["parameters"]["Tracestate"];
            };
            path?: never;
            cookie?: never;
        };
        /** @description The event: `{ id, event, timestamp, team_id, data }`. Verify the signature over these exact bytes before parsing them. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["TaskEvent"];
            };
        };
        responses: {
            /** @description Any 2xx acknowledges the delivery; its body is recorded (the first 1 KiB) and otherwise ignored. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Any other answer (a 4xx or 5xx, or none in time) fails the attempt; it is retried. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
        };
    };
    onAlertTriggered: {
        parameters: {
            query?: never;
            header: {
                /**
                 * @description The event type, as in the body's `event`.
                 * @example alert.triggered
                 */
                "X-Opsdeck-Event": components["parameters"]["XOpsdeckEvent"];
                /**
                 * @description The delivery's id: the same on every attempt of one delivery, new for a redelivery; use the body's `id` to drop duplicate events.
                 * @example 0192f3c4-9e8d-7c6b-8a59-4e3d2c1b0a99
                 */
                "X-Opsdeck-Delivery": components["parameters"]["XOpsdeckDelivery"];
                /**
                 * @description When this attempt was signed, in seconds since the epoch. Refuse deliveries whose timestamp is more than five minutes away from your clock: that stops replays of a captured request.
                 * @example 1795257000
                 */
                "X-Opsdeck-Timestamp": components["parameters"]["XOpsdeckTimestamp"];
                /**
                 * @description `sha256=` and the hex HMAC-SHA256, keyed with the webhook's secret, of the timestamp header, a `.`, and the raw body exactly as received. `verifyOpsdeckSignature(body, headers, secret)` of the SDK checks it (and the timestamp); compare in constant time if you check it yourself.
                 * @example sha256=5d9c68b9a1f8b2e6c4d3a2b1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1
                 */
                "X-Opsdeck-Signature": components["parameters"]["XOpsdeckSignature"];
                /**
                 * @description W3C Trace Context (https://www.w3.org/TR/trace-context/) of the request that caused the event, when the server
                 *     exports traces: the delivery attempt is a span of that trace, and this names it as the parent. Absent when
                 *     tracing is off.
                 * @example 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
                 */
                traceparent?: components["parameters"]["Traceparent"];
                /**
                 * @description W3C Trace Context vendor entries that came with the trace (`traceparent`), carried on unchanged.
                 * @example vendor=t61rcWkgMzE
                 */
                tracestate?: components["parameters"]["Tracestate"];
            };
            path?: never;
            cookie?: never;
        };
        /** @description The event: `{ id, event, timestamp, team_id, data }`. Verify the signature over these exact bytes before parsing them. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["AlertEvent"];
            };
        };
        responses: {
            /** @description Any 2xx acknowledges the delivery; its body is recorded (the first 1 KiB) and otherwise ignored. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Any other answer (a 4xx or 5xx, or none in time) fails the attempt; it is retried. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
        };
    };
    onAlertAcknowledged: {
        parameters: {
            query?: never;
            header: {
                /**
                 * @description The event type, as in the body's `event`.
                 * @example alert.triggered
                 */
                "X-Opsdeck-Event": components["parameters"]["XOpsdeckEvent"];
                /**
                 * @description The delivery's id: the same on every attempt of one delivery, new for a redelivery; use the body's `id` to drop duplicate events.
                 * @example 0192f3c4-9e8d-7c6b-8a59-4e3d2c1b0a99
                 */
                "X-Opsdeck-Delivery": components["parameters"]["XOpsdeckDelivery"];
                /**
                 * @description When this attempt was signed, in seconds since the epoch. Refuse deliveries whose timestamp is more than five minutes away from your clock: that stops replays of a captured request.
                 * @example 1795257000
                 */
                "X-Opsdeck-Timestamp": components["parameters"]["XOpsdeckTimestamp"];
                /**
                 * @description `sha256=` and the hex HMAC-SHA256, keyed with the webhook's secret, of the timestamp header, a `.`, and the raw body exactly as received. `verifyOpsdeckSignature(body, headers, secret)` of the SDK checks it (and the timestamp); compare in constant time if you check it yourself.
                 * @example sha256=5d9c68b9a1f8b2e6c4d3a2b1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1
                 */
                "X-Opsdeck-Signature": components["parameters"]["XOpsdeckSignature"];
                /**
                 * @description W3C Trace Context (https://www.w3.org/TR/trace-context/) of the request that caused the event, when the server
                 *     exports traces: the delivery attempt is a span of that trace, and this names it as the parent. Absent when
                 *     tracing is off.
                 * @example 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
                 */
                traceparent?: components["parameters"]["Traceparent"];
                /**
                 * @description W3C Trace Context vendor entries that came with the trace (`traceparent`), carried on unchanged.
                 * @example vendor=t61rcWkgMzE
                 */
                tracestate?: components["parameters"]["Tracestate"];
            };
            path?: never;
            cookie?: never;
        };
        /** @description The event: `{ id, event, timestamp, team_id, data }`. Verify the signature over these exact bytes before parsing them. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["AlertEvent"];
            };
        };
        responses: {
            /** @description Any 2xx acknowledges the delivery; its body is recorded (the first 1 KiB) and otherwise ignored. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Any other answer (a 4xx or 5xx, or none in time) fails the attempt; it is retried. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
        };
    };
    onAlertResolved: {
        parameters: {
            query?: never;
            header: {
                /**
                 * @description The event type, as in the body's `event`.
                 * @example alert.triggered
                 */
                "X-Opsdeck-Event": components["parameters"]["XOpsdeckEvent"];
                /**
                 * @description The delivery's id: the same on every attempt of one delivery, new for a redelivery; use the body's `id` to drop duplicate events.
                 * @example 0192f3c4-9e8d-7c6b-8a59-4e3d2c1b0a99
                 */
                "X-Opsdeck-Delivery": components["parameters"]["XOpsdeckDelivery"];
                /**
                 * @description When this attempt was signed, in seconds since the epoch. Refuse deliveries whose timestamp is more than five minutes away from your clock: that stops replays of a captured request.
                 * @example 1795257000
                 */
                "X-Opsdeck-Timestamp": components["parameters"]["XOpsdeckTimestamp"];
                /**
                 * @description `sha256=` and the hex HMAC-SHA256, keyed with the webhook's secret, of the timestamp header, a `.`, and the raw body exactly as received. `verifyOpsdeckSignature(body, headers, secret)` of the SDK checks it (and the timestamp); compare in constant time if you check it yourself.
                 * @example sha256=5d9c68b9a1f8b2e6c4d3a2b1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1
                 */
                "X-Opsdeck-Signature": components["parameters"]["XOpsdeckSignature"];
                /**
                 * @description W3C Trace Context (https://www.w3.org/TR/trace-context/) of the request that caused the event, when the server
                 *     exports traces: the delivery attempt is a span of that trace, and this names it as the parent. Absent when
                 *     tracing is off.
                 * @example 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
                 */
                traceparent?: components["parameters"]["Traceparent"];
                /**
                 * @description W3C Trace Context vendor entries that came with the trace (`traceparent`), carried on unchanged.
                 * @example vendor=t61rcWkgMzE
                 */
                tracestate?: components["parameters"]["Tracestate"];
            };
            path?: never;
            cookie?: never;
        };
        /** @description The event: `{ id, event, timestamp, team_id, data }`. Verify the signature over these exact bytes before parsing them. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["AlertEvent"];
            };
        };
        responses: {
            /** @description Any 2xx acknowledges the delivery; its body is recorded (the first 1 KiB) and otherwise ignored. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Any other answer (a 4xx or 5xx, or none in time) fails the attempt; it is retried. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
        };
    };
    onDeploymentFinished: {
        parameters: {
            query?: never;
            header: {
                /**
                 * @description The event type, as in the body's `event`.
                 * @example alert.triggered
                 */
                "X-Opsdeck-Event": components["parameters"]["XOpsdeckEvent"];
                /**
                 * @description The delivery's id: the same on every attempt of one delivery, new for a redelivery; use the body's `id` to drop duplicate events.
                 * @example 0192f3c4-9e8d-7c6b-8a59-4e3d2c1b0a99
                 */
                "X-Opsdeck-Delivery": components["parameters"]["XOpsdeckDelivery"];
                /**
                 * @description When this attempt was signed, in seconds since the epoch. Refuse deliveries whose timestamp is more than five minutes away from your clock: that stops replays of a captured request.
                 * @example 1795257000
                 */
                "X-Opsdeck-Timestamp": components["parameters"]["XOpsdeckTimestamp"];
                /**
                 * @description `sha256=` and the hex HMAC-SHA256, keyed with the webhook's secret, of the timestamp header, a `.`, and the raw body exactly as received. `verifyOpsdeckSignature(body, headers, secret)` of the SDK checks it (and the timestamp); compare in constant time if you check it yourself.
                 * @example sha256=5d9c68b9a1f8b2e6c4d3a2b1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1
                 */
                "X-Opsdeck-Signature": components["parameters"]["XOpsdeckSignature"];
                /**
                 * @description W3C Trace Context (https://www.w3.org/TR/trace-context/) of the request that caused the event, when the server
                 *     exports traces: the delivery attempt is a span of that trace, and this names it as the parent. Absent when
                 *     tracing is off.
                 * @example 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
                 */
                traceparent?: components["parameters"]["Traceparent"];
                /**
                 * @description W3C Trace Context vendor entries that came with the trace (`traceparent`), carried on unchanged.
                 * @example vendor=t61rcWkgMzE
                 */
                tracestate?: components["parameters"]["Tracestate"];
            };
            path?: never;
            cookie?: never;
        };
        /** @description The event: `{ id, event, timestamp, team_id, data }`. Verify the signature over these exact bytes before parsing them. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["DeploymentEvent"];
            };
        };
        responses: {
            /** @description Any 2xx acknowledges the delivery; its body is recorded (the first 1 KiB) and otherwise ignored. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Any other answer (a 4xx or 5xx, or none in time) fails the attempt; it is retried. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
        };
    };
    onDeploymentCreated: {
        parameters: {
            query?: never;
            header: {
                /**
                 * @description The event type, as in the body's `event`.
                 * @example alert.triggered
                 */
                "X-Opsdeck-Event": components["parameters"]["XOpsdeckEvent"];
                /**
                 * @description The delivery's id: the same on every attempt of one delivery, new for a redelivery; use the body's `id` to drop duplicate events.
                 * @example 0192f3c4-9e8d-7c6b-8a59-4e3d2c1b0a99
                 */
                "X-Opsdeck-Delivery": components["parameters"]["XOpsdeckDelivery"];
                /**
                 * @description When this attempt was signed, in seconds since the epoch. Refuse deliveries whose timestamp is more than five minutes away from your clock: that stops replays of a captured request.
                 * @example 1795257000
                 */
                "X-Opsdeck-Timestamp": components["parameters"]["XOpsdeckTimestamp"];
                /**
                 * @description `sha256=` and the hex HMAC-SHA256, keyed with the webhook's secret, of the timestamp header, a `.`, and the raw body exactly as received. `verifyOpsdeckSignature(body, headers, secret)` of the SDK checks it (and the timestamp); compare in constant time if you check it yourself.
                 * @example sha256=5d9c68b9a1f8b2e6c4d3a2b1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1
                 */
                "X-Opsdeck-Signature": components["parameters"]["XOpsdeckSignature"];
                /**
                 * @description W3C Trace Context (https://www.w3.org/TR/trace-context/) of the request that caused the event, when the server
                 *     exports traces: the delivery attempt is a span of that trace, and this names it as the parent. Absent when
                 *     tracing is off.
                 * @example 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
                 */
                traceparent?: components["parameters"]["Traceparent"];
                /**
                 * @description W3C Trace Context vendor entries that came with the trace (`traceparent`), carried on unchanged.
                 * @example vendor=t61rcWkgMzE
                 */
                tracestate?: components["parameters"]["Tracestate"];
            };
            path?: never;
            cookie?: never;
        };
        /** @description The event: `{ id, event, timestamp, team_id, data }`. Verify the signature over these exact bytes before parsing them. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["DeploymentEvent"];
            };
        };
        responses: {
            /** @description Any 2xx acknowledges the delivery; its body is recorded (the first 1 KiB) and otherwise ignored. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Any other answer (a 4xx or 5xx, or none in time) fails the attempt; it is retried. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
        };
    };
    onDeploymentRollbackRequested: {
        parameters: {
            query?: never;
            header: {
                /**
                 * @description The event type, as in the body's `event`.
                 * @example alert.triggered
                 */
                "X-Opsdeck-Event": components["parameters"]["XOpsdeckEvent"];
                /**
                 * @description The delivery's id: the same on every attempt of one delivery, new for a redelivery; use the body's `id` to drop duplicate events.
                 * @example 0192f3c4-9e8d-7c6b-8a59-4e3d2c1b0a99
                 */
                "X-Opsdeck-Delivery": components["parameters"]["XOpsdeckDelivery"];
                /**
                 * @description When this attempt was signed, in seconds since the epoch. Refuse deliveries whose timestamp is more than five minutes away from your clock: that stops replays of a captured request.
                 * @example 1795257000
                 */
                "X-Opsdeck-Timestamp": components["parameters"]["XOpsdeckTimestamp"];
                /**
                 * @description `sha256=` and the hex HMAC-SHA256, keyed with the webhook's secret, of the timestamp header, a `.`, and the raw body exactly as received. `verifyOpsdeckSignature(body, headers, secret)` of the SDK checks it (and the timestamp); compare in constant time if you check it yourself.
                 * @example sha256=5d9c68b9a1f8b2e6c4d3a2b1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1
                 */
                "X-Opsdeck-Signature": components["parameters"]["XOpsdeckSignature"];
                /**
                 * @description W3C Trace Context (https://www.w3.org/TR/trace-context/) of the request that caused the event, when the server
                 *     exports traces: the delivery attempt is a span of that trace, and this names it as the parent. Absent when
                 *     tracing is off.
                 * @example 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
                 */
                traceparent?: components["parameters"]["Traceparent"];
                /**
                 * @description W3C Trace Context vendor entries that came with the trace (`traceparent`), carried on unchanged.
                 * @example vendor=t61rcWkgMzE
                 */
                tracestate?: components["parameters"]["Tracestate"];
            };
            path?: never;
            cookie?: never;
        };
        /** @description The event: `{ id, event, timestamp, team_id, data }`. Verify the signature over these exact bytes before parsing them. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["DeploymentEvent"];
            };
        };
        responses: {
            /** @description Any 2xx acknowledges the delivery; its body is recorded (the first 1 KiB) and otherwise ignored. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Any other answer (a 4xx or 5xx, or none in time) fails the attempt; it is retried. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
        };
    };
    onPipelineRunStarted: {
        parameters: {
            query?: never;
            header: {
                /**
                 * @description The event type, as in the body's `event`.
                 * @example alert.triggered
                 */
                "X-Opsdeck-Event": components["parameters"]["XOpsdeckEvent"];
                /**
                 * @description The delivery's id: the same on every attempt of one delivery, new for a redelivery; use the body's `id` to drop duplicate events.
                 * @example 0192f3c4-9e8d-7c6b-8a59-4e3d2c1b0a99
                 */
                "X-Opsdeck-Delivery": components["parameters"]["XOpsdeckDelivery"];
                /**
                 * @description When this attempt was signed, in seconds since the epoch. Refuse deliveries whose timestamp is more than five minutes away from your clock: that stops replays of a captured request.
                 * @example 1795257000
                 */
                "X-Opsdeck-Timestamp": components["parameters"]["XOpsdeckTimestamp"];
                /**
                 * @description `sha256=` and the hex HMAC-SHA256, keyed with the webhook's secret, of the timestamp header, a `.`, and the raw body exactly as received. `verifyOpsdeckSignature(body, headers, secret)` of the SDK checks it (and the timestamp); compare in constant time if you check it yourself.
                 * @example sha256=5d9c68b9a1f8b2e6c4d3a2b1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1
                 */
                "X-Opsdeck-Signature": components["parameters"]["XOpsdeckSignature"];
                /**
                 * @description W3C Trace Context (https://www.w3.org/TR/trace-context/) of the request that caused the event, when the server
                 *     exports traces: the delivery attempt is a span of that trace, and this names it as the parent. Absent when
                 *     tracing is off.
                 * @example 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
                 */
                traceparent?: components["parameters"]["Traceparent"];
                /**
                 * @description W3C Trace Context vendor entries that came with the trace (`traceparent`), carried on unchanged.
                 * @example vendor=t61rcWkgMzE
                 */
                tracestate?: components["parameters"]["Tracestate"];
            };
            path?: never;
            cookie?: never;
        };
        /** @description The event: `{ id, event, timestamp, team_id, data }`. Verify the signature over these exact bytes before parsing them. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["PipelineRunEvent"];
            };
        };
        responses: {
            /** @description Any 2xx acknowledges the delivery; its body is recorded (the first 1 KiB) and otherwise ignored. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Any other answer (a 4xx or 5xx, or none in time) fails the attempt; it is retried. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
        };
    };
    onPipelineRunCompleted: {
        parameters: {
            query?: never;
            header: {
                /**
                 * @description The event type, as in the body's `event`.
                 * @example alert.triggered
                 */
                "X-Opsdeck-Event": components["parameters"]["XOpsdeckEvent"];
                /**
                 * @description The delivery's id: the same on every attempt of one delivery, new for a redelivery; use the body's `id` to drop duplicate events.
                 * @example 0192f3c4-9e8d-7c6b-8a59-4e3d2c1b0a99
                 */
                "X-Opsdeck-Delivery": components["parameters"]["XOpsdeckDelivery"];
                /**
                 * @description When this attempt was signed, in seconds since the epoch. Refuse deliveries whose timestamp is more than five minutes away from your clock: that stops replays of a captured request.
                 * @example 1795257000
                 */
                "X-Opsdeck-Timestamp": components["parameters"]["XOpsdeckTimestamp"];
                /**
                 * @description `sha256=` and the hex HMAC-SHA256, keyed with the webhook's secret, of the timestamp header, a `.`, and the raw body exactly as received. `verifyOpsdeckSignature(body, headers, secret)` of the SDK checks it (and the timestamp); compare in constant time if you check it yourself.
                 * @example sha256=5d9c68b9a1f8b2e6c4d3a2b1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1
                 */
                "X-Opsdeck-Signature": components["parameters"]["XOpsdeckSignature"];
                /**
                 * @description W3C Trace Context (https://www.w3.org/TR/trace-context/) of the request that caused the event, when the server
                 *     exports traces: the delivery attempt is a span of that trace, and this names it as the parent. Absent when
                 *     tracing is off.
                 * @example 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
                 */
                traceparent?: components["parameters"]["Traceparent"];
                /**
                 * @description W3C Trace Context vendor entries that came with the trace (`traceparent`), carried on unchanged.
                 * @example vendor=t61rcWkgMzE
                 */
                tracestate?: components["parameters"]["Tracestate"];
            };
            path?: never;
            cookie?: never;
        };
        /** @description The event: `{ id, event, timestamp, team_id, data }`. Verify the signature over these exact bytes before parsing them. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["PipelineRunEvent"];
            };
        };
        responses: {
            /** @description Any 2xx acknowledges the delivery; its body is recorded (the first 1 KiB) and otherwise ignored. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Any other answer (a 4xx or 5xx, or none in time) fails the attempt; it is retried. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
        };
    };
    onPipelineUpdated: {
        parameters: {
            query?: never;
            header: {
                /**
                 * @description The event type, as in the body's `event`.
                 * @example alert.triggered
                 */
                "X-Opsdeck-Event": components["parameters"]["XOpsdeckEvent"];
                /**
                 * @description The delivery's id: the same on every attempt of one delivery, new for a redelivery; use the body's `id` to drop duplicate events.
                 * @example 0192f3c4-9e8d-7c6b-8a59-4e3d2c1b0a99
                 */
                "X-Opsdeck-Delivery": components["parameters"]["XOpsdeckDelivery"];
                /**
                 * @description When this attempt was signed, in seconds since the epoch. Refuse deliveries whose timestamp is more than five minutes away from your clock: that stops replays of a captured request.
                 * @example 1795257000
                 */
                "X-Opsdeck-Timestamp": components["parameters"]["XOpsdeckTimestamp"];
                /**
                 * @description `sha256=` and the hex HMAC-SHA256, keyed with the webhook's secret, of the timestamp header, a `.`, and the raw body exactly as received. `verifyOpsdeckSignature(body, headers, secret)` of the SDK checks it (and the timestamp); compare in constant time if you check it yourself.
                 * @example sha256=5d9c68b9a1f8b2e6c4d3a2b1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1
                 */
                "X-Opsdeck-Signature": components["parameters"]["XOpsdeckSignature"];
                /**
                 * @description W3C Trace Context (https://www.w3.org/TR/trace-context/) of the request that caused the event, when the server
                 *     exports traces: the delivery attempt is a span of that trace, and this names it as the parent. Absent when
                 *     tracing is off.
                 * @example 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
                 */
                traceparent?: components["parameters"]["Traceparent"];
                /**
                 * @description W3C Trace Context vendor entries that came with the trace (`traceparent`), carried on unchanged.
                 * @example vendor=t61rcWkgMzE
                 */
                tracestate?: components["parameters"]["Tracestate"];
            };
            path?: never;
            cookie?: never;
        };
        /** @description The event: `{ id, event, timestamp, team_id, data }`. Verify the signature over these exact bytes before parsing them. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["PipelineEvent"];
            };
        };
        responses: {
            /** @description Any 2xx acknowledges the delivery; its body is recorded (the first 1 KiB) and otherwise ignored. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Any other answer (a 4xx or 5xx, or none in time) fails the attempt; it is retried. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
        };
    };
    onAgentEnrolled: {
        parameters: {
            query?: never;
            header: {
                /**
                 * @description The event type, as in the body's `event`.
                 * @example alert.triggered
                 */
                "X-Opsdeck-Event": components["parameters"]["XOpsdeckEvent"];
                /**
                 * @description The delivery's id: the same on every attempt of one delivery, new for a redelivery; use the body's `id` to drop duplicate events.
                 * @example 0192f3c4-9e8d-7c6b-8a59-4e3d2c1b0a99
                 */
                "X-Opsdeck-Delivery": components["parameters"]["XOpsdeckDelivery"];
                /**
                 * @description When this attempt was signed, in seconds since the epoch. Refuse deliveries whose timestamp is more than five minutes away from your clock: that stops replays of a captured request.
                 * @example 1795257000
                 */
                "X-Opsdeck-Timestamp": components["parameters"]["XOpsdeckTimestamp"];
                /**
                 * @description `sha256=` and the hex HMAC-SHA256, keyed with the webhook's secret, of the timestamp header, a `.`, and the raw body exactly as received. `verifyOpsdeckSignature(body, headers, secret)` of the SDK checks it (and the timestamp); compare in constant time if you check it yourself.
                 * @example sha256=5d9c68b9a1f8b2e6c4d3a2b1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1
                 */
                "X-Opsdeck-Signature": components["parameters"]["XOpsdeckSignature"];
                /**
                 * @description W3C Trace Context (https://www.w3.org/TR/trace-context/) of the request that caused the event, when the server
                 *     exports traces: the delivery attempt is a span of that trace, and this names it as the parent. Absent when
                 *     tracing is off.
                 * @example 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
                 */
                traceparent?: components["parameters"]["Traceparent"];
                /**
                 * @description W3C Trace Context vendor entries that came with the trace (`traceparent`), carried on unchanged.
                 * @example vendor=t61rcWkgMzE
                 */
                tracestate?: components["parameters"]["Tracestate"];
            };
            path?: never;
            cookie?: never;
        };
        /** @description The event: `{ id, event, timestamp, team_id, data }`. Verify the signature over these exact bytes before parsing them. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["AgentEvent"];
            };
        };
        responses: {
            /** @description Any 2xx acknowledges the delivery; its body is recorded (the first 1 KiB) and otherwise ignored. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Any other answer (a 4xx or 5xx, or none in time) fails the attempt; it is retried. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
        };
    };
    onAgentOffline: {
        parameters: {
            query?: never;
            header: {
                /**
                 * @description The event type, as in the body's `event`.
                 * @example alert.triggered
                 */
                "X-Opsdeck-Event": components["parameters"]["XOpsdeckEvent"];
                /**
                 * @description The delivery's id: the same on every attempt of one delivery, new for a redelivery; use the body's `id` to drop duplicate events.
                 * @example 0192f3c4-9e8d-7c6b-8a59-4e3d2c1b0a99
                 */
                "X-Opsdeck-Delivery": components["parameters"]["XOpsdeckDelivery"];
                /**
                 * @description When this attempt was signed, in seconds since the epoch. Refuse deliveries whose timestamp is more than five minutes away from your clock: that stops replays of a captured request.
                 * @example 1795257000
                 */
                "X-Opsdeck-Timestamp": components["parameters"]["XOpsdeckTimestamp"];
                /**
                 * @description `sha256=` and the hex HMAC-SHA256, keyed with the webhook's secret, of the timestamp header, a `.`, and the raw body exactly as received. `verifyOpsdeckSignature(body, headers, secret)` of the SDK checks it (and the timestamp); compare in constant time if you check it yourself.
                 * @example sha256=5d9c68b9a1f8b2e6c4d3a2b1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1
                 */
                "X-Opsdeck-Signature": components["parameters"]["XOpsdeckSignature"];
                /**
                 * @description W3C Trace Context (https://www.w3.org/TR/trace-context/) of the request that caused the event, when the server
                 *     exports traces: the delivery attempt is a span of that trace, and this names it as the parent. Absent when
                 *     tracing is off.
                 * @example 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
                 */
                traceparent?: components["parameters"]["Traceparent"];
                /**
                 * @description W3C Trace Context vendor entries that came with the trace (`traceparent`), carried on unchanged.
                 * @example vendor=t61rcWkgMzE
                 */
                tracestate?: components["parameters"]["Tracestate"];
            };
            path?: never;
            cookie?: never;
        };
        /** @description The event: `{ id, event, timestamp, team_id, data }`. Verify the signature over these exact bytes before parsing them. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["AgentEvent"];
            };
        };
        responses: {
            /** @description Any 2xx acknowledges the delivery; its body is recorded (the first 1 KiB) and otherwise ignored. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Any other answer (a 4xx or 5xx, or none in time) fails the attempt; it is retried. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
        };
    };
    onWebhookPing: {
        parameters: {
            query?: never;
            header: {
                /**
                 * @description The event type, as in the body's `event`.
                 * @example alert.triggered
                 */
                "X-Opsdeck-Event": components["parameters"]["XOpsdeckEvent"];
                /**
                 * @description The delivery's id: the same on every attempt of one delivery, new for a redelivery; use the body's `id` to drop duplicate events.
                 * @example 0192f3c4-9e8d-7c6b-8a59-4e3d2c1b0a99
                 */
                "X-Opsdeck-Delivery": components["parameters"]["XOpsdeckDelivery"];
                /**
                 * @description When this attempt was signed, in seconds since the epoch. Refuse deliveries whose timestamp is more than five minutes away from your clock: that stops replays of a captured request.
                 * @example 1795257000
                 */
                "X-Opsdeck-Timestamp": components["parameters"]["XOpsdeckTimestamp"];
                /**
                 * @description `sha256=` and the hex HMAC-SHA256, keyed with the webhook's secret, of the timestamp header, a `.`, and the raw body exactly as received. `verifyOpsdeckSignature(body, headers, secret)` of the SDK checks it (and the timestamp); compare in constant time if you check it yourself.
                 * @example sha256=5d9c68b9a1f8b2e6c4d3a2b1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1
                 */
                "X-Opsdeck-Signature": components["parameters"]["XOpsdeckSignature"];
                /**
                 * @description W3C Trace Context (https://www.w3.org/TR/trace-context/) of the request that caused the event, when the server
                 *     exports traces: the delivery attempt is a span of that trace, and this names it as the parent. Absent when
                 *     tracing is off.
                 * @example 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
                 */
                traceparent?: components["parameters"]["Traceparent"];
                /**
                 * @description W3C Trace Context vendor entries that came with the trace (`traceparent`), carried on unchanged.
                 * @example vendor=t61rcWkgMzE
                 */
                tracestate?: components["parameters"]["Tracestate"];
            };
            path?: never;
            cookie?: never;
        };
        /** @description The event: `{ id, event, timestamp, team_id, data }`. Verify the signature over these exact bytes before parsing them. */
        requestBody: {
            content: {
                "application/json": components["schemas"]["WebhookPingEvent"];
            };
        };
        responses: {
            /** @description Any 2xx acknowledges the delivery; its body is recorded (the first 1 KiB) and otherwise ignored. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description Any other answer (a 4xx or 5xx, or none in time) fails the attempt; it is retried. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
        };
    };
}
type WithRequired<T, K extends keyof T> = T & {
    [P in K]-?: T[P];
};
