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
      testTimeout: 60000,
    },
  ],
};
