import type { components } from '../../../generated/openapi.d.ts';
import type { MatchRow } from './vulnerabilities.repository.ts';

export const toPackageVulnerability = (row: MatchRow): components['schemas']['PackageVulnerability'] => ({
  agent_id: row.agent_id,
  hostname: row.hostname,
  team_id: row.team_id,
  ecosystem: row.ecosystem,
  name: row.name,
  version: row.version,
  // Stored as '' when the agent did not say.
  architecture: row.architecture === '' ? null : row.architecture,
  advisory_id: row.advisory_id,
  aliases: row.aliases,
  summary: row.summary,
  severity: row.severity,
  fixed_versions: row.fixed_versions,
  published_at: row.published_at?.toISOString() ?? null,
  modified_at: row.modified_at.toISOString(),
});
