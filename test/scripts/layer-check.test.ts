import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const SCRIPT = path.join(__dirname, '..', '..', 'scripts', 'check-core-imports.mjs');

/** Runs the layer check (part of `npm run lint`) over a tree of the given files. */
function check(files: Record<string, string>): { status: number | null; out: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pgq-layers-'));
  try {
    fs.mkdirSync(path.join(root, 'scripts'));
    fs.copyFileSync(SCRIPT, path.join(root, 'scripts', 'check-core-imports.mjs'));
    for (const [f, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
      fs.writeFileSync(path.join(root, f), text);
    }
    const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'check-core-imports.mjs')], { encoding: 'utf8' });
    return { status: r.status, out: `${r.stdout}${r.stderr}` };
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

describe('the layer check', () => {
  it('passes this repository', () => {
    const r = spawnSync(process.execPath, [SCRIPT], { encoding: 'utf8' });
    expect(r.status).toBe(0);
  });

  it.each([
    ['cli/x.ts', "import { LAB_DIR } from '../lab/paths';", /cli\/x\.ts: imports '\.\.\/lab\/paths' from lab\//],
    ['infra/x.ts', "import { Lab } from '../lab/index';", /infra\/x\.ts: imports .* from lab\//],
    ['lambdas/handlers/x.ts', "import { a } from '../../infra/config';", /from infra\/: the functions bundle only/],
    ['lambdas/adapters/x.ts', "const m = await import('../../cli/main');", /from cli\/: the functions bundle only/],
    ['lambdas/core/x.ts', "import fs from 'node:fs';", /lambdas\/core must stay pure/],
    [
      'lambdas/handlers/y.ts',
      "import { S } from '../adapters/aws/s';",
      /handlers reach adapters only through deps\.ts/,
    ],
  ])('fails %s importing across a layer', (file, text, msg) => {
    const r = check({ [file]: text });
    expect(r.status).toBe(1);
    expect(r.out).toMatch(msg);
  });

  it('lets the lab use the product (lab/ may import cli/ and lambdas/)', () => {
    expect(
      check({ 'lab/x.ts': "import { a } from '../cli/stack-outputs';\nimport { b } from '../lambdas/core';" }).status,
    ).toBe(0);
  });
});
