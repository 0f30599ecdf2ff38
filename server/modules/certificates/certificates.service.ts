// Agent certificates: issued by the CA (certificates.authority.ts) at enrolment or on the agent's request, listed,
// read and revoked by the operators of the agent's team (another team's is 404), and published: the CA
// certificate and the signed CRL, DER or PEM by `Accept`.
import { v7 as uuidv7 } from 'uuid';
import type { components, operations } from '../../../generated/openapi.d.ts';
import type { Caller } from '../../auth/caller.ts';
import type { Executor } from '../../db/executor.ts';
import { notFound } from '../../http/errors.ts';
import { listPage } from '../../http/list-page.ts';
import type { Pagination } from '../../http/pagination.ts';
import type { RequestContext } from '../../http/request-context.ts';
import type { CertificateAuthority, CheckedCsr } from './certificates.authority.ts';
import { toCertificate, type AgentCertificate } from './certificates.mapper.ts';
import * as repo from './certificates.repository.ts';

type Schemas = components['schemas'];
export type CertificateListQuery = NonNullable<operations['listCertificates']['parameters']['query']>;

/** What `getCaCertificate` and `getCertificateRevocationList` answer: DER unless `Accept` prefers PEM. */
export interface PkiAnswer {
  pem: boolean;
  body: string | Uint8Array;
}

const PEM_TYPE = 'application/x-pem-file';

/** Whether `Accept` prefers PEM over DER (`der`): PEM named with a higher quality than DER, or equal and first. */
export function prefersPem(accept: string | undefined, der: string): boolean {
  if (!accept) return false;
  const ranges = accept.split(',').map((part, index) => {
    const [type = '', ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const quality = q ? Number(q.slice(2)) : 1;
    return { type: type.trim(), q: Number.isFinite(quality) ? quality : 0, index };
  });
  const best = (mediaType: string) => {
    const [major] = mediaType.split('/');
    const exact = ranges.find((r) => r.type === mediaType);
    const wide = exact ?? ranges.find((r) => r.type === `${major}/*`) ?? ranges.find((r) => r.type === '*/*');
    return wide ? { q: wide.q, index: exact ? wide.index : Number.MAX_SAFE_INTEGER } : { q: 0, index: Number.MAX_SAFE_INTEGER };
  };
  const pem = best(PEM_TYPE);
  const binary = best(der);
  return pem.q > 0 && (pem.q > binary.q || (pem.q === binary.q && pem.index < binary.index));
}

export class CertificateService {
  readonly #db: Executor;
  readonly #authority: CertificateAuthority;

  constructor(db: Executor, authority: CertificateAuthority) {
    this.#db = db;
    this.#authority = authority;
  }

  /** A CSR the CA will sign, or 422 (VAL_INVALID_CSR, VAL_CSR_KEY_REFUSED). */
  check(csr: string): Promise<CheckedCsr> {
    return this.#authority.check(csr);
  }

  /**
   * Issues a certificate for the agent (inside the caller's transaction, when `db` is one) and revokes its active
   * certificates beyond `max_active_per_agent`.
   */
  async issue(db: Executor, agentId: string, csr: CheckedCsr): Promise<Schemas['IssuedCertificate']> {
    const issued = await this.#authority.issue(csr, agentId);
    const id = uuidv7();
    await repo.insertCertificate(db, { id, agent_id: agentId, ...issued });
    await repo.supersedeCertificates(db, agentId, this.#authority.policy.max_active_per_agent);
    const row = await repo.findIssued(db, id);
    return { certificate: toCertificate(row), ca_chain: [this.#authority.pem] };
  }

  /** An agent enrols again: its earlier certificates end, as its earlier key does. */
  async supersedeAll(db: Executor, agentId: string): Promise<void> {
    await repo.supersedeCertificates(db, agentId, 0);
  }

  /** The calling agent's new certificate for its CSR. */
  async renew(agent: Caller, input: Schemas['CertificateRenewRequest']): Promise<Schemas['IssuedCertificate']> {
    const csr = await this.check(input.csr);
    return this.issue(this.#db, agent.agentId!, csr);
  }

  async list(caller: Caller, query: CertificateListQuery, ctx: RequestContext): Promise<{ items: AgentCertificate[]; pagination: Pagination }> {
    const filter: repo.CertificateFilter = { teamIds: caller.teamIds, agentId: query.agent_id, status: query.status };
    const { rows, pagination } = await listPage(query, ctx, {
      sortable: repo.SORTABLE_FIELDS,
      defaultSort: 'created_at:desc',
      filter: { ...filter, teamIds: undefined },
      rows: (keys, window) => repo.listCertificates(this.#db, filter, keys, window),
      count: () => repo.countCertificates(this.#db, filter),
    });
    const now = Date.now();
    return { items: rows.map((row) => toCertificate(row, now)), pagination };
  }

  async get(caller: Caller, id: string): Promise<AgentCertificate> {
    const row = await repo.findCertificate(this.#db, id, caller.teamIds);
    if (!row) throw notFound('Certificate', id);
    return toCertificate(row);
  }

  async revoke(caller: Caller, id: string, reason: repo.RevocationReason = 'unspecified'): Promise<void> {
    if (!(await repo.revokeCertificate(this.#db, id, caller.teamIds, reason))) throw notFound('Certificate', id);
  }

  caCertificate(accept: string | undefined): PkiAnswer {
    const pem = prefersPem(accept, 'application/pkix-cert');
    return { pem, body: pem ? this.#authority.pem : this.#authority.der };
  }

  async revocationList(accept: string | undefined): Promise<PkiAnswer> {
    const crl = await this.#authority.crl(await repo.listRevoked(this.#db));
    const pem = prefersPem(accept, 'application/pkix-crl');
    return { pem, body: pem ? crl.pem : crl.der };
  }
}
