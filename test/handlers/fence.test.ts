import { DEFAULT_SETTINGS } from '../../lambdas/core';
import { HostUnreachableError } from '../../lambdas/core/errors';
import { initialLease } from '../../lambdas/core/lease';
import type { ControllerSettings } from '../../lambdas/core/settings';
import type { Lease } from '../../lambdas/core/types';
import type { Deps } from '../../lambdas/handlers/deps';
import { handler as fence } from '../../lambdas/handlers/fence';
import type { RunState } from '../../lambdas/handlers/run-state';
import { handler as verifyFence } from '../../lambdas/handlers/verify-fence';
import type { RegisteredNode } from '../../lambdas/ports/store-port';
import { memoryLease, registeredNode } from './fixtures';

jest.mock('../../lambdas/handlers/deps', () => ({ deps: () => Promise.resolve(currentDeps) }));
let currentDeps: Deps;

const node = (name: string): RegisteredNode => registeredNode(name);

/** The old primary's host as the fence meets it; every call the fence makes is recorded. */
function world(o: {
  settings: ControllerSettings;
  sever: () => Promise<number>;
  instance: string[];
  tls?: { sslMode: string; PGQ_NODE_TLS_NAMES?: Record<string, string> };
  upstream?: Record<string, string>;
  /** SSM's PingStatus for the host; undefined: the port cannot tell (as the fakes of older tests). */
  agent?: string;
  /** The sent-not-awaited stop: its command id, or what SendCommand threw. @default 'cmd-1' */
  send?: () => Promise<string>;
  /** Nodes that do not answer the quorum fence's detach (or VerifyFence's probe). */
  silent?: string[];
}) {
  const calls: string[] = [];
  const timeline: string[] = [];
  const states = [...o.instance];
  const cell = memoryLease({
    ...initialLease('pg1', 0),
    epoch: 4,
    state: 'failing-over',
    run: { holder: HOLDER, mode: 'failover', oldPrimary: 'pg1', candidate: 'pg2' },
  } as Lease);
  let sgOpen = true;
  const d = {
    config: { settings: o.settings, ...(o.tls ?? {}) },
    log: { info: () => undefined, error: () => undefined },
    metrics: { flush: async () => undefined },
    store: {
      // The run's own record (retry-safety): only the holder execution may fence, for the node it replaces.
      getLease: cell.getLease,
      transitionLease: cell.transitionLease,
      listNodes: async () => ['pg1', 'pg2', 'pg3'].map(node),
      appendTimeline: async (_e: number, s: { step: string; detail: string }) =>
        void timeline.push(`${s.step}: ${s.detail}`),
    },
    fence: {
      revokeIngress: async () => {
        sgOpen = false;
        calls.push('revoke');
        return { revokedRules: 2 };
      },
      ingressClosed: async () => !sgOpen,
      instanceState: async () => (states.length > 1 ? states.shift() : states[0]),
      stopInstance: async (id: string) => void calls.push(`stop-instance ${id}`),
    },
    host: {
      severConnections: async (_n: unknown, opts: { timeoutMs: number }) => {
        calls.push(`ssm-stop within ${opts.timeoutMs} ms`);
        return o.sever();
      },
      wait: async (_n: unknown, script: string, id: string, opts: { timeoutMs: number }) => {
        calls.push(`ssm-wait ${script} ${id} within ${opts.timeoutMs} ms`);
        return o.sever();
      },
      send: async (_n: unknown, script: string, _p: unknown, opts: { deliveryTimeoutMs: number }) => {
        calls.push(`ssm-send ${script}, queued up to ${opts.deliveryTimeoutMs} ms`);
        return (o.send ?? (async () => 'cmd-1'))();
      },
      ...(o.agent !== undefined ? { agentStatus: async () => o.agent } : {}),
    },
    pg: {
      detachUpstream: async (e: { name: string }) => {
        if (o.silent?.includes(e.name)) throw new Error(`connect ETIMEDOUT ${e.name}`);
        calls.push(`detach ${e.name}`);
        return '10.0.0.1:5432';
      },
      probe: async (e: { name: string }) => ({
        node: e.name,
        ok: e.name !== 'pg1' && !o.silent?.includes(e.name),
        streaming: !!o.upstream?.[e.name],
        upstream: o.upstream?.[e.name] ?? null,
      }),
    },
    now: () => 0,
  } as unknown as Deps;
  currentDeps = d;
  return { calls, timeline };
}

/** The execution that holds epoch 4. */
const HOLDER = 'c-failover-e4';

const run: RunState = {
  input: { mode: 'failover', cluster: 'c', reason: 'r' },
  epoch: 4,
  oldPrimary: 'pg1',
  candidate: 'pg2',
};
const sync = DEFAULT_SETTINGS;
/** Sync mode with the stop awaited before the promotion (the ladder as in async mode). */
const syncAwait = { ...DEFAULT_SETTINGS, fence: { ...DEFAULT_SETTINGS.fence, awaitHostStop: true } };
const async_ = { ...DEFAULT_SETTINGS, replicationMode: 'async' as const };
const lost = async () => {
  throw new HostUnreachableError('SendCommand stop-postgres-immediate to pg1: InvalidInstanceId');
};

/** The default sync fence's calls: revoke, send the stop (not awaited), detach both replicas. */
const SENT_THEN_DETACHED = [
  'revoke',
  'ssm-send stop-postgres-immediate, queued up to 8000 ms',
  'detach pg2',
  'detach pg3',
];

describe('fence handler: the ladder, rung by rung', () => {
  it('sync by default: revoke, send the stop without waiting for it, fence by quorum at once', async () => {
    const w = world({ settings: sync, sever: async () => 3, instance: ['running'] });
    const out = (await fence({ state: run, executionName: HOLDER })) as RunState;
    expect(w.calls).toEqual(SENT_THEN_DETACHED);
    expect(out.fence).toMatchObject({ rung: 'quorum', postgresStopped: false, stopCommandId: 'cmd-1' });
    expect(w.timeline[1]).toBe(
      'fence-quorum: stop of PostgreSQL sent, not awaited (SSM command cmd-1): fencing by quorum (sync mode: detach every replica from pg1 and prove none streams; an ANY 1 primary with no standby acknowledges nothing)',
    );
    await verifyFence({ state: out, executionName: HOLDER });
    expect(w.timeline.at(-1)).toBe(
      'verify-fence: pg1 (quorum): ingress closed, fresh connection refused, no replica streaming from it',
    );
  });

  it('sync by default, SendCommand refused (InvalidInstanceId): host unreachable, fence by quorum', async () => {
    const w = world({
      settings: sync,
      sever: async () => 3,
      instance: ['running'],
      send: lost as () => Promise<string>,
    });
    const out = (await fence({ state: run, executionName: HOLDER })) as RunState;
    expect(w.calls).toEqual(SENT_THEN_DETACHED);
    expect(out.fence).toMatchObject({ rung: 'quorum', postgresStopped: false });
    expect(out.fence?.stopCommandId).toBeUndefined();
    expect(w.timeline[1]).toMatch(
      /^fence-quorum: host unreachable \(SendCommand .*InvalidInstanceId\): fencing by quorum/,
    );
  });

  it('sync by default, a replica that does not answer the detach: the quorum fence cannot stand in, the fence waits for the sent stop', async () => {
    const w = world({ settings: sync, sever: async () => 0, instance: ['running'], silent: ['pg3'] });
    const out = (await fence({ state: run, executionName: HOLDER })) as RunState;
    expect(w.calls).toEqual([
      'revoke',
      'ssm-send stop-postgres-immediate, queued up to 8000 ms',
      'detach pg2',
      'ssm-wait stop-postgres-immediate cmd-1 within 8000 ms',
    ]);
    expect(out.fence).toMatchObject({ rung: 'stop-postgres', postgresStopped: true });
    expect(w.timeline.slice(1)).toEqual([
      'fence-quorum-detach: pg2 detached (streamed from pg1); pg3 not detached: connect ETIMEDOUT pg3; pg3 did not answer the detach, so the quorum fence cannot be proven: waiting for the stop of pg1',
      'fence-sever: pg1: postgres stopped immediately',
    ]);
    // The stop proven, VerifyFence needs no answer from pg3.
    await verifyFence({ state: out, executionName: HOLDER });
    expect(w.timeline.at(-1)).toMatch(/^verify-fence: pg1 \(stop-postgres\)/);
  });

  it('... and the stop does not land either: the quorum rung, which VerifyFence refuses while pg3 is silent', async () => {
    const w = world({ settings: sync, sever: lost, instance: ['running'], silent: ['pg3'] });
    const out = (await fence({ state: run, executionName: HOLDER })) as RunState;
    expect(out.fence).toMatchObject({ rung: 'quorum', postgresStopped: false, stopCommandId: 'cmd-1' });
    expect(w.timeline[2]).toMatch(/^fence-quorum: host unreachable \(SendCommand .*\): fencing by quorum/);
    expect(w.timeline.filter((l) => l.startsWith('fence-quorum-detach'))).toHaveLength(1);
    await expect(verifyFence({ state: out, executionName: HOLDER })).rejects.toThrow(
      /pg3 does not answer, so it may still stream from pg1/,
    );
  });

  it('sync with awaitHostStop: a reachable host: revoke, SSM stop within the bound, done', async () => {
    const w = world({ settings: syncAwait, sever: async () => 3, instance: ['running'] });
    const out = (await fence({ state: run, executionName: HOLDER })) as RunState;
    expect(w.calls).toEqual(['revoke', 'ssm-stop within 8000 ms']);
    expect(out.fence).toMatchObject({ rung: 'stop-postgres', postgresStopped: true });
    expect(w.timeline).toEqual([
      'fence-revoke: revoked 2 ingress rule(s) on sg-pg1',
      'fence-sever: pg1: postgres stopped immediately, 3 tracked connection(s) closed',
    ]);
  });

  it('sync with awaitHostStop, host unreachable: fence by quorum, every other node detached; VerifyFence proves it', async () => {
    const w = world({ settings: syncAwait, sever: lost, instance: ['running'] });
    const out = (await fence({ state: run, executionName: HOLDER })) as RunState;
    expect(w.calls).toEqual(['revoke', 'ssm-stop within 8000 ms', 'detach pg2', 'detach pg3']);
    expect(out.fence).toMatchObject({ rung: 'quorum', postgresStopped: false });
    expect(w.timeline[1]).toMatch(
      /^fence-quorum: host unreachable \(SendCommand .*InvalidInstanceId\): fencing by quorum/,
    );
    expect(w.timeline[2]).toBe(
      'fence-quorum-detach: pg2 detached (streamed from pg1); pg3 detached (streamed from pg1)',
    );
    await verifyFence({ state: out, executionName: HOLDER });
    expect(w.timeline[3]).toBe(
      'verify-fence: pg1 (quorum): ingress closed, fresh connection refused, no replica streaming from it',
    );
  });

  it("sync, SSM reports the host's agent ConnectionLost: no command sent (it would sit Pending to the bound), fence by quorum at once", async () => {
    const w = world({ settings: syncAwait, sever: async () => 3, instance: ['running'], agent: 'ConnectionLost' });
    const out = (await fence({ state: run, executionName: HOLDER })) as RunState;
    expect(w.calls).toEqual(['revoke', 'detach pg2', 'detach pg3']);
    expect(out.fence).toMatchObject({ rung: 'quorum', postgresStopped: false });
    expect(w.timeline[1]).toMatch(
      /^fence-quorum: host unreachable \(SSM reports the agent on i-0pg1 ConnectionLost\): fencing by quorum/,
    );
  });

  it('an agent SSM reports Online is no shortcut: the stop is sent as before', async () => {
    const w = world({ settings: syncAwait, sever: async () => 3, instance: ['running'], agent: 'Online' });
    const out = (await fence({ state: run, executionName: HOLDER })) as RunState;
    expect(w.calls).toEqual(['revoke', 'ssm-stop within 8000 ms']);
    expect(out.fence).toMatchObject({ rung: 'stop-postgres' });
  });

  it('async, EC2 already reports the instance stopped: no SSM command, no StopInstances; VerifyFence checks stopped', async () => {
    const w = world({ settings: async_, sever: async () => 0, instance: ['stopped'] });
    const out = (await fence({ state: run, executionName: HOLDER })) as RunState;
    expect(w.calls).toEqual(['revoke']);
    expect(out.fence).toMatchObject({ rung: 'stop-instance', instanceState: 'stopped' });
    await verifyFence({ state: out, executionName: HOLDER });
    expect(w.timeline.at(-1)).toMatch(/verify-fence: pg1 \(stop-instance\).*instance i-0pg1 stopped/);
  });

  it('async, a hung host: StopInstances with Force, then stopped', async () => {
    const w = world({ settings: async_, sever: lost, instance: ['running', 'running', 'stopped'] });
    const out = (await fence({ state: run, executionName: HOLDER })) as RunState;
    expect(w.calls).toEqual(['revoke', 'ssm-stop within 8000 ms', 'stop-instance i-0pg1']);
    expect(out.fence).toMatchObject({ rung: 'stop-instance', postgresStopped: true, instanceState: 'stopped' });
    expect(w.timeline).toContain('fence-stop-instance-done: i-0pg1 is stopped (STONITH)');
  });

  it('policy operator: the run aborts with one sentence naming the node, what was tried and what to run', async () => {
    const settings = { ...sync, fence: { ...sync.fence, unreachableHost: 'operator' as const } };
    const w = world({ settings, sever: lost, instance: ['running'] });
    const err = (await fence({ state: run, executionName: HOLDER }).catch((e) => e)) as Error;
    expect(err.name).toBe('Pgq.Fatal');
    expect(err.message).toMatch(
      /^FenceNeedsOperatorError: pg1 \(i-0pg1\) could not be fenced automatically: ingress revoked; host unreachable.*policy operator\..*stop-instances --force --instance-ids i-0pg1/,
    );
    expect(w.calls).toEqual(['revoke', 'ssm-stop within 8000 ms']);
  });

  it('VerifyFence sees a replica streaming from the old primary by its TLS server name too', async () => {
    // With tlsServerName, the replicas' conninfo is host=<name> hostaddr=<ip>, and their WAL receiver reports the name.
    const tls = { sslMode: 'verify-full', PGQ_NODE_TLS_NAMES: { pg1: 'pg1.db.internal' } };
    const w = world({ settings: syncAwait, sever: async () => 3, instance: ['running'], tls });
    const out = (await fence({ state: run, executionName: HOLDER })) as RunState;
    world({
      settings: sync,
      sever: async () => 3,
      instance: ['running'],
      tls,
      upstream: { pg3: 'pg1.db.internal:5432' },
    });
    await expect(verifyFence({ state: out, executionName: HOLDER })).rejects.toThrow(/pg3 still streams from pg1/);
    expect(w.calls).toEqual(['revoke', 'ssm-stop within 8000 ms']);
  });
});
