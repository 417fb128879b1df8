import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // chdb is a native, process-wide engine: never load it in worker threads.
    pool: 'forks',
    maxWorkers: 2,
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});
