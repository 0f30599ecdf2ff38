import { requireCaller } from '../../auth/caller.ts';
import type { HandlerMap } from '../../http/operation-types.ts';
import { linkHeader } from '../../http/pagination.ts';
import type { CertificateService } from './certificates.service.ts';

type CertificateHandlers = Pick<HandlerMap, 'listCertificates' | 'getCertificate' | 'revokeCertificate' | 'getCaCertificate' | 'getCertificateRevocationList' | 'renewAgentCertificate'>;

export function certificateHandlers(certificates: CertificateService): CertificateHandlers {
  return {
    async listCertificates({ query, ctx }) {
      const { items, pagination } = await certificates.list(requireCaller(ctx), query, ctx);
      return { status: 200, headers: { Link: linkHeader(pagination) }, body: { data: items, pagination } };
    },
    async getCertificate({ params, ctx }) {
      return { status: 200, body: { data: await certificates.get(requireCaller(ctx), params.certificate_id) } };
    },
    async revokeCertificate({ params, query, ctx }) {
      await certificates.revoke(requireCaller(ctx), params.certificate_id, query?.reason);
      return { status: 204 };
    },
    async renewAgentCertificate({ body, ctx }) {
      const issued = await certificates.renew(requireCaller(ctx), body);
      return { status: 201, headers: { Location: `/api/v1/config/certificates/${issued.certificate.id}` }, body: { data: issued } };
    },
    async getCaCertificate({ ctx }) {
      const { pem, body } = certificates.caCertificate(ctx.accept);
      return { status: 200, headers: { Vary: 'Accept' }, text: { mediaType: pem ? 'application/x-pem-file' : 'application/pkix-cert', body } };
    },
    async getCertificateRevocationList({ ctx }) {
      const { pem, body } = await certificates.revocationList(ctx.accept);
      return { status: 200, headers: { Vary: 'Accept' }, text: { mediaType: pem ? 'application/x-pem-file' : 'application/pkix-crl', body } };
    },
  };
}
