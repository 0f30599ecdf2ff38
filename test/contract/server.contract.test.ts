import { defineContractSuite } from './contract-suite.ts';
import { startTestServer } from '../support/server.ts';

defineContractSuite(
  'the real server (PostgreSQL, response validation on)',
  async () => {
    const server = await startTestServer();
    return { url: server.url, token: server.adminToken, stop: () => server.close() };
  },
  { stateful: true },
);
