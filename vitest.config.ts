import { defineConfig } from 'vitest/config';

// Three projects: pure core + Node pipeline (node), React components (jsdom), real Chromium (e2e).
// Timeouts are generous on purpose: the suite must pass on a slow, noisy 2-core machine. They
// guard against hangs, not speed. Measured with the suite at nice 10 beside two 2-thread jobs:
// rrf28's faithfulness test (54 faces through the exported network, mirror included) took 513 s
// and the WebGPU explorer test on SwiftShader 499 s; alone on 2 cores the whole suite takes ~8 min.
export default defineConfig({
  test: {
    reporters: ['default', './tests/support/summaryReporter.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          environment: 'node',
          include: ['tests/**/*.test.ts'],
          exclude: ['tests/e2e/**'],
          testTimeout: 1_200_000,
          hookTimeout: 1_200_000,
        },
      },
      {
        test: {
          name: 'components',
          environment: 'jsdom',
          include: ['tests/**/*.test.tsx'],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'e2e',
          environment: 'node',
          include: ['tests/e2e/**/*.test.ts'],
          testTimeout: 1_500_000,
          hookTimeout: 1_500_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
