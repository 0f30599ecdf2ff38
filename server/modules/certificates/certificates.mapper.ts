import type { components } from '../../../generated/openapi.d.ts';
import { agentUri } from './certificates.authority.ts';
import type { CertificateRow } from './certificates.repository.ts';

export type AgentCertificate = components['schemas']['AgentCertificate'];

/** A certificate row as the API shows it; its status as of `now`. */
export function toCertificate(row: CertificateRow, now = Date.now()): AgentCertificate {
  return {
    id: row.id,
    agent_id: row.agent_id,
    team_id: row.team_id,
    serial_number: row.serial_number,
    subject: row.subject,
    subject_alt_uri: agentUri(row.agent_id),
    fingerprint_sha256: row.fingerprint_sha256,
    key_algorithm: row.key_algorithm,
    key_bits: row.key_bits,
    status: row.revoked_at ? 'revoked' : row.not_after.getTime() <= now ? 'expired' : 'active',
    not_before: row.not_before.toISOString(),
    not_after: row.not_after.toISOString(),
    revoked_at: row.revoked_at?.toISOString() ?? null,
    revocation_reason: row.revocation_reason,
    pem: row.pem,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}
