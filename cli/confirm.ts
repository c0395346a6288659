import readline from 'node:readline/promises';
import { UsageError } from './errors';

/**
 * Asks the operator to confirm an action. `--yes` skips the question; without
 * a terminal to ask on (a script, CI) the command refuses instead of guessing.
 */
export async function confirm(
  question: string,
  opts: { yes?: boolean; input?: NodeJS.ReadableStream & { isTTY?: boolean }; output?: NodeJS.WritableStream } = {},
): Promise<void> {
  if (opts.yes) return;
  const input = opts.input ?? process.stdin;
  const output = opts.output ?? process.stderr;
  if (!input.isTTY) {
    throw new UsageError(`not confirmed: no terminal to ask "${question}" on; pass --yes to proceed`);
  }
  const rl = readline.createInterface({ input, output });
  try {
    const answer = (await rl.question(`${question} [y/N] `)).trim().toLowerCase();
    if (answer !== 'y' && answer !== 'yes') throw new UsageError('not confirmed: nothing changed');
  } finally {
    rl.close();
  }
}
