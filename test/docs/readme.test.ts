import fs from 'node:fs';
import path from 'node:path';
import { configReference, readmeSection } from '../../scripts/config-reference';

const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');

describe('README', () => {
  it('has a configuration reference that matches the zod schemas (run `npx tsx scripts/config-reference.ts --write`)', () => {
    expect(readmeSection(readme)).toBe(configReference());
  });

  it('names the two commands a newcomer runs, and .ci/run runs the same test command', () => {
    expect(readme).toMatch(/npm run demo/);
    expect(readme).toMatch(/npm test/);
    expect(fs.readFileSync(path.join(__dirname, '..', '..', '.ci', 'run'), 'utf8')).toMatch(/^npm test$/m);
  });
});
