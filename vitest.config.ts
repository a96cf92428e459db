import { defineConfig } from 'vitest/config';

// Unit and integration tests (Node, plus jsdom for UI units via a per-file docblock).
// Playwright journeys live in test/e2e and are run by playwright.config.ts.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    exclude: ['test/e2e/**', 'node_modules/**'],
    environment: 'node',
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
