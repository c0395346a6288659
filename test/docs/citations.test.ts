import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');
const design = fs.readFileSync(path.join(ROOT, 'docs', 'design.md'), 'utf8');

/** Sections (`## N. Title`) and invariants (`N. **...**` under section 2) that docs/design.md defines. */
const sections = new Set([...design.matchAll(/^## (\d+)\. /gm)].map((m) => Number(m[1])));
const invariantsBlock = design.split(/^## /m).find((s) => s.startsWith('2. Invariants')) ?? '';
const invariants = new Set([...invariantsBlock.matchAll(/^(\d+)\. \*\*/gm)].map((m) => Number(m[1])));

/** Every tracked source and document file a citation may live in (this test itself excluded: it names patterns). */
function trackedFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' });
  return out
    .split('\0')
    .filter((f) => /\.(ts|js|mjs|md|sh|py)$/.test(f))
    .filter((f) => !f.startsWith('node_modules/') && f !== 'test/docs/citations.test.ts');
}

interface Citation {
  readonly file: string;
  readonly line: number;
  readonly text: string;
}

function citations(re: RegExp): Citation[] {
  const found: Citation[] = [];
  for (const file of trackedFiles()) {
    const lines = fs.readFileSync(path.join(ROOT, file), 'utf8').split('\n');
    lines.forEach((l, i) => {
      for (const m of l.matchAll(re)) found.push({ file, line: i + 1, text: m[0] });
    });
  }
  return found;
}

describe('citations resolve inside the repository', () => {
  it('defines the sections and invariants the code cites', () => {
    expect([...sections].sort()).toEqual([1, 2, 3, 4, 5, 6]);
    expect([...invariants].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('cites only invariants docs/design.md defines', () => {
    const bad = citations(/\binvariants? (\d+)/gi).filter((c) => !invariants.has(Number(/\d+/.exec(c.text)![0])));
    expect(bad).toEqual([]);
  });

  it('cites only sections docs/design.md has', () => {
    const bad = citations(/design\.md section (\d+)/g).filter((c) => !sections.has(Number(/\d+$/.exec(c.text)![0])));
    expect(bad).toEqual([]);
  });

  it('never cites a design document outside the repository', () => {
    expect(citations(/\bDESIGN(\.md| section| §)|POSTGRES-NOTES/g)).toEqual([]);
  });

  it('cites only docs/*.md files that exist', () => {
    const bad = citations(/\bdocs\/[a-z0-9-]+\.md\b/g).filter((c) => !fs.existsSync(path.join(ROOT, c.text)));
    expect(bad).toEqual([]);
  });
});
