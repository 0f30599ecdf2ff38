import { defineConfig } from 'vitest/config';

// Workspace packages resolve to their TypeScript sources (the `opsdeck-source` export condition).
// Tests run in Vite's server (SSR) environment, which reads `ssr.resolve.conditions`; setting it replaces
// Vite's defaults, so they are listed again after ours.
const conditions = ['opsdeck-source'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions: [...conditions, 'module', 'node', 'development|production'] } },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    // Walks that call many operations once each pay for compiling each one's validators on first use; a busy
    // 2-core machine needs more than 30 s for the longest of them.
    testTimeout: 60_000,
    // Starting the embedded PGlite takes several seconds on a busy 2-core machine.
    hookTimeout: 60_000,
    // Each file starts its own server on its own database; two at a time fits a 2-core machine.
    maxWorkers: 2,
  },
});
