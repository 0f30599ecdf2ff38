// Every resource belongs to a team (team-scope.ts keeps reads inside the caller's teams); this decides
// the team a new one goes to. Services call it; repositories do not, so they stay free of HTTP errors.
import type { Caller } from '../auth/caller.ts';
import { ApiError, notFound } from '../http/errors.ts';

/** The team a new resource goes to: the one named (which must be the caller's), or the caller's only team. */
export function owningTeam(caller: Pick<Caller, 'teamIds'>, requested: string | undefined): string {
  if (requested !== undefined) {
    if (!caller.teamIds.includes(requested)) throw notFound('Team', requested);
    return requested;
  }
  const [only, ...others] = caller.teamIds;
  if (only === undefined || others.length > 0) {
    throw new ApiError('VAL_REQUIRED_FIELD', 'team_id is required when the caller does not belong to exactly one team', {
      details: [{ field: 'team_id', message: `the caller belongs to ${caller.teamIds.length} teams` }],
    });
  }
  return only;
}
