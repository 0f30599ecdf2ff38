import { defineContractSuite } from './contract-suite.ts';
import { startTestServer } from '../support/server.ts';

defineContractSuite(
  'the real server (PostgreSQL, response validation on)',
  async () => {
    // Private webhook targets allowed: the suite registers a webhook on a closed local port.
    const server = await startTestServer({ WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true' });
    return { url: server.url, token: server.adminToken, stop: () => server.close() };
  },
  { stateful: true },
);
