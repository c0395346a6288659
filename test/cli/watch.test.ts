import { watchStatus } from '../../cli/commands/status';
import { makeOutput } from '../../cli/output';
import { snapshot } from './fixtures';

/** Drives the watch loop: each gather answers from `script` (a snapshot, or an error to throw); sleeps are instant. */
function drive(script: (string | Error)[], opts: { json?: boolean; tty?: boolean } = {}) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const out = makeOutput(
    opts.json ?? false,
    (s) => stdout.push(s),
    (s) => stderr.push(s),
  );
  const stop = new AbortController();
  const sleeps: number[] = [];
  let t = 0;
  let i = 0;
  const run = watchStatus(out, 2000, {
    tty: opts.tty ?? true,
    signal: stop.signal,
    now: () => t,
    gather: async () => {
      const step = script[i++]!;
      t += 150;
      if (i >= script.length) stop.abort();
      if (step instanceof Error) throw step;
      return { ...snapshot, cluster: step };
    },
    sleep: async (ms) => {
      sleeps.push(ms);
      t += ms;
    },
  });
  return { run, stdout, stderr, sleeps };
}

describe('status --watch', () => {
  it('redraws every refresh until stopped, clearing the screen on a terminal, at the interval minus the work', async () => {
    const w = drive(['one', 'two', 'three']);
    expect(await w.run).toBe(3);
    expect(w.stdout).toHaveLength(3);
    for (const [n, name] of ['one', 'two', 'three'].entries()) {
      expect(w.stdout[n]!.startsWith('\x1b[2J\x1b[H')).toBe(true);
      expect(w.stdout[n]).toContain(`cluster ${name} `);
      expect(w.stdout[n]).toContain('(refreshing every 2 s; Ctrl-C to stop)');
    }
    // Each refresh took 150 ms, so the loop waits the remaining 1850 ms; none after the stop.
    expect(w.sleeps).toEqual([1850, 1850]);
  });

  it('a failed refresh is one line and the watch goes on', async () => {
    const w = drive(['one', new Error('ProvisionedThroughputExceeded: slow down\nstack...'), 'three']);
    expect(await w.run).toBe(2);
    expect(w.stdout.join('')).toContain('status unavailable: ProvisionedThroughputExceeded: slow down\n');
    expect(w.stdout.filter((s) => s.includes('cluster three '))).toHaveLength(1);
  });

  it('piped output has no escape codes; --json writes one document per refresh', async () => {
    const plain = drive(['one', 'two'], { tty: false });
    await plain.run;
    expect(plain.stdout.join('')).not.toContain('\x1b[');
    const json = drive(['one', 'two'], { json: true });
    await json.run;
    expect(json.stdout.map((s) => JSON.parse(s).cluster)).toEqual(['one', 'two']);
  });

  it('stops at once when aborted while sleeping', async () => {
    const stop = new AbortController();
    let gathers = 0;
    const run = watchStatus(
      makeOutput(true, () => undefined),
      60_000,
      {
        tty: false,
        signal: stop.signal,
        gather: async () => {
          gathers++;
          return snapshot;
        },
      },
    );
    setTimeout(() => stop.abort(), 50);
    const t0 = Date.now();
    expect(await run).toBe(1);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(gathers).toBe(1);
  });
});
