import fs from 'node:fs';
import path from 'node:path';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, type InvokeCommandOutput, LambdaClient } from '@aws-sdk/client-lambda';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import type { LabDeployment } from '../../lab/deployer/deploy';
import { kill9Trial, labStore } from '../../lab/drills/scenarios';
import type { Lab } from '../../lab/world/index';
import { nodeDataDir, nodeLogFile, SUPERVISOR_LOG } from '../../lab/world/paths';
import { nodePassfile } from '../../lab/world/postgres-node';
import {
  LAB_CLUSTER,
  LAB_CONTROLLER_PASSWORD,
  LAB_REPL_PASSWORD,
  LAB_REWIND_PASSWORD,
  LAB_TABLE,
} from '../../lab/world/topology';
import { useDeployedLab } from './fixtures';

/**
 * Issue 15: after a failover and the old primary's rejoin, no password is anywhere a password must never be:
 * a node's postgresql.auto.conf (copied by every base backup and rewind), a server log, the lab's own log, the
 * Step Functions history (every state's input and output) or an item of the table.
 */
let lab: Lab;
let d: LabDeployment;

/**
 * The passwords the controller and the hosts hold. (The lab's administrative superuser, LAB_DB_USER, is the test
 * clients' and never reaches the controller; its password is also a substring of the table's name.)
 */
const SECRETS = [LAB_CONTROLLER_PASSWORD, LAB_REPL_PASSWORD, LAB_REWIND_PASSWORD];

useDeployedLab({ probeRunMs: 170000, startProbes: true }, (x) => {
  ({ lab, d } = x);
});

/** Where each secret shows in `text`, as "<secret #> in <where>" (the secret itself is not repeated). */
function hits(where: string, text: string): string[] {
  return SECRETS.flatMap((s, i) => (text.includes(s) ? [`secret #${i} in ${where}`] : []));
}

async function stepFunctionsText(): Promise<{ where: string; text: string }[]> {
  const sfn = new SFNClient({});
  const execs = (await sfn.send(new ListExecutionsCommand({ stateMachineArn: d.stateMachineArn, maxResults: 100 })))
    .executions;
  const out: { where: string; text: string }[] = [];
  for (const e of execs ?? []) {
    const desc = await sfn.send(new DescribeExecutionCommand({ executionArn: e.executionArn! }));
    const events: unknown[] = [];
    let nextToken: string | undefined;
    do {
      const h = await sfn.send(
        new GetExecutionHistoryCommand({ executionArn: e.executionArn!, maxResults: 1000, nextToken }),
      );
      events.push(...(h.events ?? []));
      nextToken = h.nextToken;
    } while (nextToken);
    out.push({ where: `execution ${e.name}`, text: JSON.stringify({ desc, events }) });
  }
  return out;
}

describe('no password at rest or in flight after a failover and a rejoin', () => {
  it('greps every node configuration, server log, execution history and table item', async () => {
    // The replicas' hosts lose their passfiles (a host provisioned before write-passfile ever ran on it): the
    // streams they hold stay up, and the re-point must write the passfile through the host before it can stream.
    const saved = new Map(['pg2', 'pg3'].map((n) => [n, fs.readFileSync(nodePassfile(nodeDataDir(n)))]));
    for (const n of saved.keys()) fs.rmSync(nodePassfile(nodeDataDir(n)));
    let t: Awaited<ReturnType<typeof kill9Trial>>;
    try {
      t = await kill9Trial(lab, d);
    } finally {
      for (const [n, body] of saved) {
        const file = nodePassfile(nodeDataDir(n));
        if (fs.existsSync(file)) continue;
        fs.writeFileSync(file, body, { mode: 0o600 });
        const owner = fs.statSync(nodeDataDir(n));
        fs.chownSync(file, owner.uid, owner.gid);
      }
    }
    expect(t.executionStatus).toBe('SUCCEEDED');
    const other = ['pg2', 'pg3'].find((n) => n !== t.newPrimary)!;
    expect(t.event!.timeline.find((s) => s.step === 'repoint')?.detail).toMatch(
      new RegExp(
        `^${other}: streams from ${t.newPrimary} on timeline \\d+ \\(its passfile at \\.\\./\\.pgpass-pgquorum was missing: written by write-passfile, then re-pointed\\)$`,
      ),
    );
    expect(t.event!.degraded ?? []).toEqual([]);
    expect(t.event!.rejoin).toMatch(/pg1 streams from pg[23] again \(pg_rewind\)/);
    // The sweep looks where it must: every node's configuration names a passfile, and there are executions.
    const sources: { where: string; text: string }[] = [];
    for (const n of ['pg1', 'pg2', 'pg3']) {
      const auto = fs.readFileSync(path.join(nodeDataDir(n), 'postgresql.auto.conf'), 'utf8');
      if (n !== t.newPrimary) expect(auto).toMatch(/primary_conninfo = '.*passfile=/);
      sources.push({ where: `${n} postgresql.auto.conf`, text: auto });
      sources.push({ where: `${n} server log`, text: fs.readFileSync(nodeLogFile(n), 'utf8') });
    }
    sources.push({ where: 'the lab supervisor log', text: fs.readFileSync(SUPERVISOR_LOG, 'utf8') });
    const executions = await stepFunctionsText();
    expect(executions.length).toBeGreaterThan(0);
    sources.push(...executions);
    const items = (await new DynamoDBClient({}).send(new ScanCommand({ TableName: LAB_TABLE, ConsistentRead: true })))
      .Items;
    expect(items?.length).toBeGreaterThan(0);
    sources.push({ where: `table ${LAB_TABLE}`, text: JSON.stringify(items) });
    expect(sources.flatMap((s) => hits(s.where, s.text))).toEqual([]);
    // No conninfo anywhere carries a password keyword either (whatever its value).
    expect(sources.filter((s) => /password\s*=/i.test(s.text)).map((s) => s.where)).toEqual([]);
  }, 240000);
});

describe('a tampered NODE# item', () => {
  it('sends the controller nowhere: a real rejoin call refuses, naming both addresses, with nothing changed', async () => {
    const store = labStore();
    const lease = await store.getLease();
    expect(lease.state).toBe('steady');
    const victim = (await store.listNodes()).find((n) => n.name !== lease.primary)!;
    const ssmBefore = (await lab.ssmInvocations()).length;
    // Anything that can write the table (any probe) moves the node elsewhere: the controller would send its
    // password there, and this rejoin would rewind whatever answers.
    await store.putNode({ ...victim, port: victim.port + 1 });
    let r: InvokeCommandOutput;
    try {
      const state = {
        input: { mode: 'failover', cluster: LAB_CLUSTER, reason: 'e2e: tampered NODE# item' },
        epoch: lease.epoch,
        oldPrimary: victim.name,
        candidate: lease.primary,
      };
      r = await new LambdaClient({}).send(
        new InvokeCommand({
          FunctionName: d.functionNames['rejoin-old-primary'],
          Payload: Buffer.from(JSON.stringify({ state })),
        }),
      );
    } finally {
      await store.putNode(victim);
    }
    expect(r.FunctionError).toBeDefined();
    const want = `node ${victim.name}: the table's address ${victim.host}:${victim.port + 1} differs from the deploy config's ${victim.host}:${victim.port}: refusing to connect or act on it`;
    expect(Buffer.from(r.Payload!).toString('utf8')).toContain(want);
    // Nothing changed: no host command, the same lease, the node still a streaming replica of the same primary.
    expect((await lab.ssmInvocations()).length).toBe(ssmBefore);
    expect(await store.getLease()).toEqual(lease);
    expect((await lab.status()).nodes.find((n) => n.name === victim.name)).toMatchObject({
      role: 'replica',
      upstream: lease.primary,
    });
    expect((await store.getEvent(lease.epoch))?.timeline.at(-1)?.detail).toContain(want);
  }, 60000);
});
