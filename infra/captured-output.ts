/**
 * Runs `fn` with this process's stdout and stderr captured (CDK prints
 * "Bundling asset ..." for each of 19 functions during a synth): the output is
 * dropped when `fn` succeeds and written out, then the error rethrown, when it
 * fails, so a broken bundle still shows why. Child processes that inherit the
 * streams (esbuild) are not captured: the stack runs esbuild at warning level.
 */
export function withCapturedOutput<T>(fn: () => T): T {
  const out = process.stdout.write;
  const err = process.stderr.write;
  const captured: string[] = [];
  const capture = (chunk: unknown) => {
    captured.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
    return true;
  };
  process.stdout.write = capture as typeof process.stdout.write;
  process.stderr.write = capture as typeof process.stderr.write;
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    process.stdout.write = out;
    process.stderr.write = err;
  };
  try {
    return fn();
  } catch (e) {
    restore();
    process.stderr.write(captured.join(''));
    throw e;
  } finally {
    restore();
  }
}
