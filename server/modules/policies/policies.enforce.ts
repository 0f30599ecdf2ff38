// Where policies bite. `allowed_commands`: a `command` action runs only when its command line (the program, then
// each argument, joined by single spaces) matches, whole, a pattern of every such policy on its agents; `*` matches
// any run of characters, `?` one. Called by the tasks module only for command actions, so nothing else pays for it.
// (`max_task_concurrency` is enforced by the claim's own statement, tasks.repository.ts.)
import type { components } from '../../../generated/openapi.d.ts';
import type { Executor } from '../../db/executor.ts';
import { ApiError, echoed } from '../../http/errors.ts';
import { commandPolicies } from './policies.repository.ts';

type Schemas = components['schemas'];

/** A pattern as an anchored regular expression: `*` any run, `?` one character, anything else itself. */
export function patternRegExp(pattern: string): RegExp {
  const body = [...pattern].map((c) => (c === '*' ? '[\\s\\S]*' : c === '?' ? '[\\s\\S]' : c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('');
  return new RegExp(`^${body}$`);
}

/** The command line a command action runs: the program, then each argument, joined by single spaces. */
export function commandLine(parameters: Schemas['TaskParameters']): string {
  const { command, args } = parameters as { command?: unknown; args?: unknown };
  return [String(command ?? ''), ...(Array.isArray(args) ? args.map(String) : [])].join(' ');
}

/**
 * Refuses (422 BIZ_POLICY_VIOLATION, naming the policy) a command action on `agentIds` of `teamId` that an
 * `allowed_commands` policy applying to any of them does not allow. `field`: where the command stands in the request.
 */
export async function assertCommandAllowed(db: Executor, teamId: string, agentIds: readonly string[], parameters: Schemas['TaskParameters'], field: string): Promise<void> {
  const policies = await commandPolicies(db, teamId, agentIds);
  if (policies.length === 0) return;
  const line = commandLine(parameters);
  for (const policy of policies) {
    const rules = policy.rules as Extract<Schemas['PolicyRules'], { kind: 'allowed_commands' }>;
    if (rules.commands.some((pattern) => patternRegExp(pattern).test(line))) continue;
    throw new ApiError('BIZ_POLICY_VIOLATION', `The policy "${policy.name}" (${policy.id}) does not allow the command "${line.slice(0, 200)}"`, {
      details: [
        { field, message: `not allowed by the policy "${policy.name}"`, ...echoed(line) },
        { field: 'policy_id', message: `the policy "${policy.name}", which allows only: ${rules.commands.join(', ').slice(0, 900)}`, value: policy.id },
      ],
    });
  }
}
