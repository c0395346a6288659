import { withCapturedOutput } from '../../infra/captured-output';

/** Records what reaches the real stderr while `fn` runs. */
function realStderr(fn: () => void): string {
  const orig = process.stderr.write;
  const seen: string[] = [];
  process.stderr.write = ((c: string) => {
    seen.push(String(c));
    return true;
  }) as typeof process.stderr.write;
  try {
    fn();
  } finally {
    process.stderr.write = orig;
  }
  return seen.join('');
}

describe('withCapturedOutput', () => {
  test.each([
    ['succeeds', false, ''],
    ['fails', true, 'Bundling asset X...\nesbuild said no\n'],
  ])('when the synth %s, what it printed is %s', (_what, fails, expected) => {
    let result: unknown;
    const shown = realStderr(() => {
      try {
        result = withCapturedOutput(() => {
          process.stderr.write('Bundling asset X...\n');
          process.stdout.write('esbuild said no\n');
          if (fails) throw new Error('bundle failed');
          return 42;
        });
      } catch (e) {
        result = (e as Error).message;
      }
    });
    expect(shown).toBe(expected);
    expect(result).toBe(fails ? 'bundle failed' : 42);
  });

  test('the streams are restored afterwards', () => {
    const before = process.stdout.write;
    withCapturedOutput(() => undefined);
    expect(process.stdout.write).toBe(before);
  });
});
