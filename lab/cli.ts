/**
 * `npm run lab -- <command>`: drive the local HA lab by hand.
 * Every failure prints one line and exits non-zero.
 */
import { Command } from 'commander';
import { GATE_PATHS, type GatePath, Lab, type LabStatus } from './index';
import { quietNode20Warning } from './quiet';

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
    `replication: ${st.mode}   writer -> ${st.writer.join(', ') || '?'}   reader -> ${st.reader.join(', ') || '?'}   emulator :${st.emulator.port} ${st.emulator.healthy ? 'healthy' : 'DOWN'}`,
  );
  return lines.join('\n');
}

function run(fn: (...args: string[]) => Promise<void>) {
  return async (...args: string[]) => {
    try {
      await fn(...args);
    } catch (err) {
      process.stderr.write(`lab: ${(err as Error).message}\n`);
      process.exitCode = 1;
    }
  };
}

function checkPath(p: string): GatePath {
  if (!GATE_PATHS.includes(p as GatePath))
    throw new Error(`unknown path '${p}' (expected one of ${GATE_PATHS.join(', ')})`);
  return p as GatePath;
}

quietNode20Warning();
const program = new Command('lab').description('the pgquorum local HA lab').showHelpAfterError();

program
  .command('up')
  .description('start PostgreSQL x3, the AWS emulator, gates and endpoints (idempotent)')
  .option('--async', 'asynchronous replication instead of quorum sync')
  .action(
    run(async (...a: unknown[]) => {
      const o = a[0] as { async?: boolean };
      const t0 = Date.now();
      const lab = await Lab.up({ async: o.async, onProgress: (m) => process.stdout.write(`  ${m}\n`) });
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
      if (state !== 'open' && state !== 'close') throw new Error(`state must be 'open' or 'close', not '${state}'`);
      await (await Lab.attach()).setSecurityGroup(node, state === 'open');
    }),
  );

program
  .command('cut <node> <path>')
  .description(`partition one path to a node (${GATE_PATHS.join(', ')})`)
  .action(run(async (node: string, p: string) => (await Lab.attach()).cut(node, checkPath(p))));

program
  .command('heal <node> <path>')
  .description('heal a partitioned path')
  .action(run(async (node: string, p: string) => (await Lab.attach()).heal(node, checkPath(p))));

program
  .command('reset')
  .description('back to baseline: pg1 primary, replicas streaming, SGs open, writer -> pg1')
  .action(run(async () => (await Lab.attach()).reset()));

program.parseAsync(process.argv).catch((err: Error) => {
  process.stderr.write(`lab: ${err.message}\n`);
  process.exitCode = 1;
});
