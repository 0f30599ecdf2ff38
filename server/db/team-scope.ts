// Every resource belongs to a team, and a caller reaches only its teams' rows: this is the one place
// that scope becomes SQL.
import { sql, type SelectQueryBuilder } from 'kysely';

/** For `.$call(…)`: keeps the rows whose `team_id` is one of the teams; none at all for no teams. */
export const onlyTeams =
  (teamIds: readonly string[]) =>
  <QB extends SelectQueryBuilder<any, any, any>>(query: QB): QB =>
    (teamIds.length > 0 ? query.where(sql.ref('team_id'), 'in', teamIds) : query.where(sql<boolean>`false`)) as QB;

/** For `.$call(…)`: keeps the rows whose `column` lies in [after, before); either end may be left open. */
export const createdWithin =
  (after: string | undefined, before: string | undefined, column = 'created_at') =>
  <QB extends SelectQueryBuilder<any, any, any>>(query: QB): QB => {
    let q = query;
    if (after) q = q.where(sql.ref(column), '>=', new Date(after)) as QB;
    if (before) q = q.where(sql.ref(column), '<', new Date(before)) as QB;
    return q;
  };
