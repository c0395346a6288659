/**
 * `npm run lab -- <command>`: drive the local HA lab by hand.
 * Every failure prints one line on stderr and exits non-zero:
 * 1 = the operation failed, 2 = bad usage (unknown command, node, path or state),
 * 3 = no lab is running.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { TASKS } from '../infra/constructs/tasks';
import { quietNode20Warning } from '../lambdas/adapters/aws/clients';
import { CLOUD_PROFILES, type CloudProfileName } from './world/cloud-profile';
import { GATE_PATHS, type GatePath, Lab, LabError, type LabStatus, labPorts } from './world/index';

function table(st: LabStatus): string {
  const head = ['node', 'az', 'role', 'tl', 'lsn', 'lag bytes', 'sync', 'upstream', 'gate', 'conns', 'cut'];
  const rows = st.nodes.map((n) => [
    n.name,
    n.az,
    n.role,
    n.timeline ?? '-',
    n.lsn ?? '-',
    n.lagBytes ?? '-',
    n.syncState ?? '-',
    n.upstream ?? '-',
    `${n.gateOpen ? 'open' : 'closed'}${n.gateStale ? ' (stale)' : ''}`,
    n.gateConnections,
    n.cutPaths.join(',') || '-',
  ]);
  const all = [head, ...rows].map((r) => r.map(String));
  const widths = head.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  const lines = all.map((r) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  lines.push(
    '',
    `replication: ${st.mode}   cloud: ${st.cloud}   writer -> ${st.writer.join(', ') || '?'}   reader -> ${st.reader.join(', ') || '?'}   emulator :${st.emulator.port} ${st.emulator.healthy ? 'healthy' : 'DOWN'}   memory ${st.pssMiB} MiB PSS (${st.rssMiB} MiB RSS)`,
  );
  return lines.join('\n');
}

/** A usage mistake (exit code 2), as opposed to an operation that failed (1). */
class UsageError extends LabError {}

const NODE_NAMES = labPorts().nodes.map((n) => n.name as string);

function exitCodeOf(err: unknown): number {
  if (err instanceof UsageError) return 2;
  if (err instanceof LabError && /^no lab is running/.test(err.message)) return 3;
  return 1;
}

function run(fn: (...args: string[]) => Promise<void>) {
  return async (...args: string[]) => {
    try {
      await fn(...args);
    } catch (err) {
      process.stderr.write(`lab: ${(err as Error).message.split('\n')[0]}\n`);
      process.exitCode = exitCodeOf(err);
    }
  };
}

function checkNode(node: string): string {
  if (!NODE_NAMES.includes(node))
    throw new UsageError(`unknown node '${node}' (expected one of ${NODE_NAMES.join(', ')})`);
  return node;
}

function checkCloud(c: string): CloudProfileName {
  if (!CLOUD_PROFILES.includes(c as CloudProfileName))
    throw new UsageError(`unknown cloud profile '${c}' (expected one of ${CLOUD_PROFILES.join(', ')})`);
  return c as CloudProfileName;
}

function checkPath(p: string): GatePath {
  if (!GATE_PATHS.includes(p as GatePath))
    throw new UsageError(`unknown path '${p}' (expected one of ${GATE_PATHS.join(', ')})`);
  return p as GatePath;
}

quietNode20Warning();
const program = new Command('lab')
  .description('the pgquorum local HA lab')
  .exitOverride()
  .configureOutput({
    writeErr: (str) => process.stderr.write(str.startsWith('error:') ? `lab: ${str.slice(7)}` : str),
  });

program
  .command('up')
  .description('start PostgreSQL x3, the AWS emulator, gates and endpoints (idempotent)')
  .option('--async', 'asynchronous replication instead of quorum sync')
  .option('--cloud <profile>', `cloud-behaviour profile: ${CLOUD_PROFILES.join(' or ')} (default ideal)`)
  .action(
    run(async (...a: unknown[]) => {
      const o = a[0] as { async?: boolean; cloud?: string };
      const t0 = Date.now();
      const lab = await Lab.up({
        async: o.async ? true : undefined,
        cloud: o.cloud === undefined ? undefined : checkCloud(o.cloud),
        onProgress: (m) => process.stdout.write(`  ${m}\n`),
      });
      process.stdout.write(`lab up in ${((Date.now() - t0) / 1000).toFixed(1)} s\n\n${table(await lab.status())}\n`);
    }),
  );

program
  .command('down')
  .description('stop everything the lab started')
  .action(
    run(async () => {
      const t0 = Date.now();
      await Lab.down();
      process.stdout.write(`lab down in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    }),
  );

program
  .command('status')
  .option('--json', 'print JSON')
  .action(
    run(async (...a: unknown[]) => {
      const o = a[0] as { json?: boolean };
      const st = await (await Lab.attach()).status();
      process.stdout.write(o.json ? `${JSON.stringify(st, null, 2)}\n` : `${table(st)}\n`);
    }),
  );

for (const [name, desc] of [
  ['kill', 'SIGKILL the node (crash)'],
  ['stop', 'SIGSTOP the node (hang)'],
  ['cont', 'SIGCONT a stopped node'],
  ['start', 'start a node that was killed or stopped with pg-stop'],
  ['sever', "close every established connection through the node's gate"],
] as const) {
  program
    .command(`${name} <node>`)
    .description(desc)
    .action(
      run(async (node: string) => {
        checkNode(node);
        const lab = await Lab.attach();
        if (name === 'kill') await lab.kill(node);
        else if (name === 'stop') await lab.stop(node);
        else if (name === 'cont') await lab.cont(node);
        else if (name === 'start') await lab.pgStart(node);
        else process.stdout.write(`severed ${await lab.sever(node)} connection(s)\n`);
      }),
    );
}

program
  .command('sg <node> <state>')
  .description("open or close the node's security group in the emulator")
  .action(
    run(async (node: string, state: string) => {
      checkNode(node);
      if (state !== 'open' && state !== 'close')
        throw new UsageError(`state must be 'open' or 'close', not '${state}'`);
      await (await Lab.attach()).setSecurityGroup(node, state === 'open');
    }),
  );

program
  .command('cut <node> <path>')
  .description(`partition one path to a node (${GATE_PATHS.join(', ')})`)
  .option('--blackhole', 'drop bytes silently instead of refusing/closing (only timeouts notice)')
  .action(
    run(async (...a: unknown[]) => {
      const [node, p, o] = a as [string, string, { blackhole?: boolean }];
      checkNode(node);
      await (await Lab.attach()).cut(node, checkPath(p), o.blackhole ? 'blackhole' : 'reset');
    }),
  );

program
  .command('heal <node> <path>')
  .description('heal a partitioned path')
  .action(
    run(async (node: string, p: string) => {
      checkNode(node);
      await (await Lab.attach()).heal(node, checkPath(p));
    }),
  );

program
  .command('host-loss <node>')
  .description("the node's whole host is gone: postmaster frozen, every path black-holed, SSM never delivers")
  .option('--stopped', "also stop the node's EC2 instance (postmaster killed; SendCommand: InvalidInstanceId)")
  .action(
    run(async (...a: unknown[]) => {
      const [node, o] = a as [string, { stopped?: boolean }];
      checkNode(node);
      await (await Lab.attach()).hostLoss(node, { instance: o.stopped ? 'stopped' : 'running' });
    }),
  );

program
  .command('az-outage <az>')
  .description('host loss of every node in the AZ, and the probe in that AZ stops running')
  .option('--stopped', 'the lost instances show as stopped')
  .action(
    run(async (...a: unknown[]) => {
      const [az, o] = a as [string, { stopped?: boolean }];
      const zones = labPorts().nodes.map((n) => n.az as string);
      if (!zones.includes(az)) throw new UsageError(`unknown AZ '${az}' (expected one of ${zones.join(', ')})`);
      const lost = await (await Lab.attach()).azOutage(az, { instance: o.stopped ? 'stopped' : 'running' });
      process.stdout.write(`lost ${lost.join(', ') || 'no node'} and the ${az} probe\n`);
    }),
  );

program
  .command('hung-host <node>')
  .description('SIGSTOP the fence cannot undo: SSM never delivers, only cont, heal-host or reset wake it')
  .action(
    run(async (node: string) => {
      checkNode(node);
      await (await Lab.attach()).hungHost(node);
    }),
  );

program
  .command('heal-host <node>')
  .description('end a host fault (a stopped instance is started and boots)')
  .action(
    run(async (node: string) => {
      checkNode(node);
      await (await Lab.attach()).healHost(node);
    }),
  );

program
  .command('hosts')
  .description("each node's host: SSM agent, instance state, fault")
  .action(
    run(async () => {
      process.stdout.write(`${JSON.stringify(await (await Lab.attach()).hosts(), null, 2)}\n`);
    }),
  );

program
  .command('reset')
  .description('back to baseline: pg1 primary, replicas streaming, SGs open, writer -> pg1')
  .action(
    run(async () => {
      const t0 = Date.now();
      const how = await (await Lab.attach()).reset();
      process.stdout.write(`lab reset in ${((Date.now() - t0) / 1000).toFixed(1)} s (${how})\n`);
    }),
  );

program
  .command('emulator <state> [ms]')
  .description(
    'pause (SIGSTOP: AWS calls time out, state kept) or resume the emulator; slow <ms> adds latency to every AWS call, normal removes it',
  )
  .action(
    run(async (state: string, ms?: string) => {
      if (state === 'slow' || state === 'normal') {
        const n = state === 'normal' ? 0 : Number(ms);
        if (!Number.isInteger(n) || n < 0 || n > 600000)
          throw new UsageError(`slow takes a delay in ms (0-600000), not '${ms ?? ''}'`);
        await (await Lab.attach()).emulatorSlow(n);
        return;
      }
      if (state !== 'pause' && state !== 'resume')
        throw new UsageError(`state must be 'pause', 'resume', 'slow <ms>' or 'normal', not '${state}'`);
      await (await Lab.attach()).emulatorPause(state === 'pause');
    }),
  );

program
  .command('deploy')
  .description('deploy the controller into the lab (probes restart every minute until `undeploy` or `down`)')
  .action(
    run(async () => {
      const lab = await Lab.attach();
      Object.assign(process.env, lab.awsEnv);
      const t0 = Date.now();
      // Loaded on use: the CDK synth behind it takes seconds to load and no other command needs it.
      const { deployToLab, startProbes } = await import('./deployer/deploy');
      const d = await deployToLab(lab, { schedules: true, onProgress: (m) => process.stdout.write(`  ${m}\n`) });
      await startProbes(d);
      process.stdout.write(
        `controller deployed in ${((Date.now() - t0) / 1000).toFixed(1)} s: state machine ${d.stateMachineArn}, ` +
          `probes in ${d.probeNames.length} AZs.\nTry: npx pgquorum --lab status | history | switchover --to pg2\n`,
      );
    }),
  );

program
  .command('undeploy')
  .description('remove the controller from the lab (ends the probe loops); the cluster keeps running')
  .action(
    run(async () => {
      const lab = await Lab.attach();
      Object.assign(process.env, lab.awsEnv);
      const { undeployFromLab } = await import('./deployer/deploy');
      await undeployFromLab();
      process.stdout.write('controller removed from the lab\n');
    }),
  );

program
  .command('drill <scenario>')
  .description('run one bench scenario on the lab (same as `npm run bench -- --scenario <scenario>`)')
  .option('--trials <n>', 'trials', '1')
  .option('--json', 'print every trial as JSON')
  .action(
    run(async (...a: unknown[]) => {
      const [scenario, o] = a as [string, { trials: string; json?: boolean }];
      const args = ['--scenario', scenario, '--trials', o.trials, ...(o.json ? ['--json'] : [])];
      const code = await new Promise<number>((resolve, reject) => {
        const p = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'drills', 'bench.ts'), ...args], {
          stdio: 'inherit',
        });
        p.on('error', reject);
        p.on('exit', (c, sig) => resolve(c ?? (sig ? 1 : 0)));
      });
      if (code === 2) throw new UsageError(`drill ${scenario}: the bench refused the arguments`);
      if (code !== 0) throw new LabError(`drill ${scenario}: the bench exited with code ${code}`);
    }),
  );

program
  .command('fault <task>')
  .description(
    `make a task fail with Pgq.Retriable right after its side effect, once (or --times n); the state machine retries it (${Object.keys(TASKS).join(', ')})`,
  )
  .option('--times <n>', 'how many completed invocations fail', '1')
  .action(
    run(async (...a: unknown[]) => {
      const [task, o] = a as [string, { times: string }];
      if (!(task in TASKS))
        throw new UsageError(`unknown task '${task}' (expected one of ${Object.keys(TASKS).join(', ')})`);
      const times = Number(o.times);
      if (!Number.isInteger(times) || times < 0)
        throw new UsageError(`--times must be a whole number, not '${o.times}'`);
      await (await Lab.attach()).armFault(task, { times });
      process.stdout.write(`armed: ${task} fails after its side effect ${times} time(s) (reset disarms)\n`);
    }),
  );

program
  .command('faults')
  .description('faults still armed, and the task completions the fault switch saw since the last reset')
  .action(
    run(async () => {
      process.stdout.write(`${JSON.stringify(await (await Lab.attach()).faults(), null, 2)}\n`);
    }),
  );

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof CommanderError) {
    // Commander already printed its message; help and version are not failures.
    process.exitCode = err.exitCode === 0 ? 0 : 2;
    return;
  }
  process.stderr.write(`lab: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
