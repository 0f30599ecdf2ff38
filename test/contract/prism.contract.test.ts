import { defineContractSuite } from './contract-suite.ts';
import { startPrism } from '../../mocks/prism.ts';

defineContractSuite('the Prism mock', async () => startPrism(), { stateful: false });
