/**
 * Two projects: `unit` needs nothing running; `lab` needs the local HA lab
 * (PostgreSQL + emulator + gates), brought up once by its global setup and
 * torn down by its global teardown, also when tests fail.
 */
const swc = [
  '@swc/jest',
  { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } },
];

module.exports = {
  // Lab-backed tests share one lab (one primary): they must never run concurrently.
  maxWorkers: 1,
  // Global, not per project: jest ignores testTimeout inside a project entry, so the lab project's own 60 s never
  // applied and a lab reset that took over 5 s on a loaded 2-core machine failed its test (seen on a fresh clone).
  testTimeout: 60000,
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      transform: { '^.+\\.ts$': swc },
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      testPathIgnorePatterns: ['\\.lab\\.test\\.ts$', '/node_modules/'],
    },
    {
      displayName: 'lab',
      testEnvironment: 'node',
      transform: { '^.+\\.ts$': swc },
      testMatch: ['<rootDir>/test/**/*.lab.test.ts'],
      globalSetup: '<rootDir>/test/lab-global-setup.ts',
      globalTeardown: '<rootDir>/test/lab-global-teardown.ts',
    },
  ],
};
