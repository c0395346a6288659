import { DescribeExecutionCommand, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { runCommand } from '../../cli/commands/run';
import type { CliContext } from '../../cli/context';
import { EXIT, exitCodeOf } from '../../cli/errors';
import { makeOutput } from '../../cli/output';
import { DEFAULT_SETTINGS } from '../../lambdas/core/settings';
import type { ProbeResult } from '../../lambdas/ports/postgres-port';
import type { EventRecord, RegisteredNode } from '../../lambdas/ports/store-port';
import { lease, NOW } from '../core/builders';

const node = (name: string): RegisteredNode => ({
  name,
  instanceId: `i-${name}`,
  az: `az-${name}`,
  privateIp: `10.0.0.${name.slice(-1)}`,
  host: '127.0.0.1',
  port: 5000 + Number(name.slice(-1)),
  securityGroupId: `sg-${name}`,
  role: name === 'pg1' ? 'primary' : 'replica',
  status: 'healthy',
  noFailover: false,
});

const primaryProbe: ProbeResult = {
  node: 'pg1',
  ok: true,
  latencyMs: 1,
  role: 'primary',
  timeline: 1,
  currentLsn: '0/3000000',
};
const replicaProbe = (name: string, over: Partial<ProbeResult> = {}): ProbeResult => ({
  node: name,
  ok: true,
  latencyMs: 1,
  role: 'replica',
  timeline: 1,
  receiveLsn: '0/3000000',
  replayLsn: '0/3000000',
  streaming: true,
  ...over,
});

/** A CLI context over fakes: the lease, registry, event, probes and a state machine that ends as told. */
function ctxOf(opts: {
  probes?: Record<string, ProbeResult>;
  end?: { status: string; error?: string; cause?: string };
  event?: Partial<EventRecord>;
  after?: Partial<Parameters<typeof lease>[0]>;
}) {
  const sent: string[] = [];
  let started = false;
  const ctx = {
    now: () => NOW,
    target: { kind: 'lab', cluster: 'lab', settings: DEFAULT_SETTINGS, stateMachineArn: 'arn:sm' },
    store: {
      getLease: async () => (started ? lease({ epoch: 4, ...opts.after }) : lease({ epoch: 3 })),
      listNodes: async () => ['pg1', 'pg2', 'pg3'].map(node),
      getVotes: async () => [],
      getEvent: async () =>
        started && opts.event
          ? ({ epoch: 4, startedAt: NOW, timeline: [], reason: '', ...opts.event } as EventRecord)
          : undefined,
    },
    pg: async () =>
      opts.probes ? { probe: async (n: { name: string }) => opts.probes![n.name]!, probeDeadlineMs: 1000 } : undefined,
    clients: {
      sfn: {
        send: async (c: unknown) => {
          if (c instanceof StartExecutionCommand) {
            sent.push('StartExecution');
            started = true;
            return { executionArn: 'arn:x' };
          }
          if (c instanceof DescribeExecutionCommand) return opts.end ?? { status: 'SUCCEEDED' };
          throw new Error('unexpected command');
        },
      },
    },
  } as unknown as CliContext;
  const lines: string[] = [];
  const out = makeOutput(
    false,
    (s) => lines.push(s),
    (s) => lines.push(s),
  );
  return { ctx, out, sent, lines };
}

const healthy = { pg1: primaryProbe, pg2: replicaProbe('pg2'), pg3: replicaProbe('pg3') };

describe('switchover exit codes (issue 13)', () => {
  it('a pre-check refusal (target replay paused) is exit 3 with one line, and nothing starts', async () => {
    const w = ctxOf({ probes: { ...healthy, pg2: replicaProbe('pg2', { replayPaused: true }) } });
    const err = await runCommand(w.ctx, 'switchover', { to: 'pg2', yes: true }, w.out).catch((e: Error) => e);
    expect(exitCodeOf(err)).toBe(EXIT.refused);
    expect((err as Error).message).toMatch(/^switchover refused: target pg2 is not eligible: has WAL replay paused/);
    expect(w.sent).toEqual([]);
  });

  it('a state machine refusal (InputRejected) is exit 3', async () => {
    const w = ctxOf({
      probes: healthy,
      end: {
        status: 'FAILED',
        error: 'PgQuorum.InputRejected',
        cause: '{"errorMessage":"ValidationError: switchover refused: x"}',
      },
    });
    const err = await runCommand(w.ctx, 'switchover', { to: 'pg2', yes: true }, w.out).catch((e: Error) => e);
    expect(exitCodeOf(err)).toBe(EXIT.refused);
    expect((err as Error).message).toMatch(
      /^switchover refused by the state machine: ValidationError: switchover refused: x/,
    );
  });

  it('a rollback is exit 1 with one line: writes are back on the old primary, and why', async () => {
    const reason =
      'switchover pg1 -> pg2 rolled back: WaitForReplay failed: pg2 did not replay past 0/5000028 within 3000 ms; pg2 is still a replica; pg1 restarted as the primary';
    const w = ctxOf({
      probes: healthy,
      end: { status: 'SUCCEEDED' },
      event: { outcome: 'rolled-back', reason },
      after: { state: 'steady', primary: 'pg1', reason },
    });
    const err = await runCommand(w.ctx, 'switchover', { to: 'pg2', yes: true }, w.out).catch((e: Error) => e);
    expect(exitCodeOf(err)).toBe(EXIT.failed);
    expect((err as Error).message).toBe(
      'switchover rolled back: writes are back on pg1 (lease steady at epoch 4): WaitForReplay failed: pg2 did not replay past 0/5000028 within 3000 ms; pg2 is still a replica; pg1 restarted as the primary',
    );
    expect((err as Error).message.split('\n')).toHaveLength(1);
  });

  it.each(['switchover', 'failover'] as const)(
    '%s --to "" is exit 2 unknown node, never "let the controller pick"',
    async (mode) => {
      const w = ctxOf({ probes: healthy });
      const err = await runCommand(w.ctx, mode, { to: '', force: true, yes: true }, w.out).catch((e: Error) => e);
      expect(exitCodeOf(err)).toBe(EXIT.usage);
      expect((err as Error).message).toMatch(/^unknown node '': --to needs a node name/);
      expect(w.sent).toEqual([]);
    },
  );
});
