import { defineContractSuite } from './contract-suite.ts';
import { startPrism } from '../../mocks/prism.ts';

// Prism checks that credentials are present, not what they are worth.
defineContractSuite('the Prism mock', async () => ({ ...(await startPrism({ readyTimeoutMs: 90_000 })), token: 'prism-accepts-any-token' }), { stateful: false });
