import { defineConfig } from '@playwright/test';

// Browser journeys in the lab's vSphere Client stand-in, with Debian's Chromium (never a downloaded browser).
export default defineConfig({
  testDir: 'test/e2e',
  globalSetup: './test/e2e/global-setup.ts',
  forbidOnly: !!process.env.CI,
  retries: process.env.CI ? 1 : 0,
  workers: 1,
  timeout: 90_000,
  expect: { timeout: 20_000 },
  reporter: [['list']],
  outputDir: 'test-results',
  // The layout checks share the journeys' lab and run after them: the journeys start from an unconfigured portal
  // (first environment, first export buckets), the layout checks only need one.
  projects: [
    { name: 'journeys', testIgnore: /layout\.spec\.ts/ },
    { name: 'layout', testMatch: /layout\.spec\.ts/, dependencies: ['journeys'] },
  ],
  use: {
    ignoreHTTPSErrors: true,
    testIdAttribute: 'data-test',
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    viewport: { width: 1400, height: 900 },
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    },
  },
});
