/**
 * `pgquorum`: the operator CLI. Every command gathers or acts through the
 * product's own ports and adapters and the same lease and state machine as
 * the automatic path. Each failure prints one line on stderr and exits with a
 * code from cli/errors.ts (1 failed, 2 bad input, 3 refused, 4 environment).
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { quietNode20Warning } from '../lambdas/adapters/aws/clients';
import { checkFailoverFlags, checkToFlag } from './checks';
import { CONNSTR_FORMATS, type ConnstrFormat } from './connstr';
import type { CliContext, GlobalOptions } from './context';
import { EXIT, exitCodeOf } from './errors';
import { makeOutput, type Output } from './output';

/** Where the CLI writes; injectable for tests. */
export interface CliIo {
  stdout(s: string): void;
  stderr(s: string): void;
}

const processIo: CliIo = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
};

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

function positiveNumber(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number');
  return n;
}

/** The command tree. `act` runs a command body with its context and output; it owns error handling. */
export function buildProgram(
  act: (
    cmd: Command,
    body: (ctx: CliContext, out: Output) => Promise<unknown>,
    /** Checks that need no AWS: a bad flag fails before any credential or network is touched. */
    pre?: () => void,
  ) => Promise<void>,
  io: CliIo = processIo,
): Command {
  const program = new Command('pgquorum')
    .description(
      'operate a pgquorum PostgreSQL HA cluster (status, history, connstr, switchover, failover, pause, resume, rejoin, lease break; lab drills: `npm run lab -- drill`)',
    )
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showSuggestionAfterError()
    .option(
      '--stack <name>',
      'deployed pgquorum stack (or PGQ_STACK): the rest is read from its outputs; the flags below override them',
    )
    .option('--cluster <name>', 'cluster name (default: the outputs, or PGQ_CLUSTER)')
    .option(
      '--table <name>',
      'DynamoDB table (default: the stack output, else discovered from the controller functions)',
    )
    .option('--state-machine-arn <arn>', 'failover state machine (default: discovered)')
    .option('--zone-id <id>', 'Route 53 private hosted zone (default: discovered)')
    .option('--writer-record <name>', 'writer record name (default: discovered)')
    .option('--reader-record <name>', 'reader record name (default: discovered)')
    .option('--profile <name>', 'AWS profile')
    .option('--region <region>', 'AWS region')
    .option(
      '--outputs <file>',
      'stack outputs file, as `cdk deploy --outputs-file` writes it (with several stacks, --stack picks one)',
    )
    .option(
      '--lab',
      "target the local lab: its outputs file .lab/outputs.json (also implied when AWS_ENDPOINT_URL is the running lab's emulator)",
    );

  const json = () => new Option('--json', 'machine-readable output');

  program
    .command('status')
    .description('nodes (role, AZ, timeline, LSN, lag, sync, security group), votes per AZ, lease, DNS records')
    .option('-w, --watch', 'refresh until interrupted')
    .option('--interval <seconds>', 'refresh period with --watch', positiveNumber, 2)
    .addOption(json())
    .action((_o, cmd: Command) =>
      act(cmd, async (ctx, out) =>
        (await import('./commands/status')).statusCommand(ctx, cmd.opts<{ watch?: boolean; interval: number }>(), out),
      ),
    );

  program
    .command('history [id]')
    .description('past failovers and switchovers; `history <epoch>` shows one in full')
    .option('--limit <n>', 'how many', positiveInt, 20)
    .addOption(json())
    .action((id: string | undefined, _o, cmd: Command) =>
      act(cmd, async (ctx, out) =>
        (await import('./commands/history')).historyCommand(ctx, id, cmd.opts<{ limit: number }>(), out),
      ),
    );

  program
    .command('connstr')
    .description(
      'a connection string over every node (no DNS on the failover path): the writer (read-write), or --reader',
    )
    .option('--reader', 'prefer standbys, spread over them (target_session_attrs=prefer-standby, load_balance_hosts)')
    .addOption(
      new Option('--format <format>', 'libpq keyword/value, a postgresql:// URI, or a JDBC URL')
        .choices([...CONNSTR_FORMATS])
        .default('libpq'),
    )
    .option('--dbname <name>', 'database', 'postgres')
    .option('--user <name>', 'role to connect as (no password is ever printed)')
    .option('--connect-timeout <seconds>', 'per host attempt: a fenced node drops packets', positiveInt, 2)
    .option(
      '--sslrootcert <file>',
      "the nodes' CA on the client's machine (default: the stack's CA when it is a file here, or PGQ_DB_CA_BUNDLE)",
    )
    .addOption(json())
    .action((_o, cmd: Command) =>
      act(cmd, async (ctx, out) =>
        (await import('./commands/connstr')).connstrCommand(
          ctx,
          cmd.opts<{
            reader?: boolean;
            format: ConnstrFormat;
            dbname: string;
            user?: string;
            connectTimeout: number;
            sslrootcert?: string;
          }>(),
          out,
        ),
      ),
    );

  program
    .command('switchover')
    .description('planned switchover through the state machine (zero acknowledged writes lost)')
    .option('--to <node>', 'the replica to promote (default: the best one)')
    .option('--reason <text>', 'recorded in the lease and the event')
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--timeout <seconds>', 'stop following the run after this long', positiveInt, 300)
    .addOption(json())
    .action((_o, cmd: Command) =>
      act(
        cmd,
        async (ctx, out) => {
          const o = cmd.opts<{ to?: string; reason?: string; yes?: boolean; timeout: number }>();
          return (await import('./commands/run')).runCommand(ctx, 'switchover', { ...o, timeoutSec: o.timeout }, out);
        },
        () => checkToFlag(cmd.opts()),
      ),
    );

  program
    .command('failover')
    .description('forced failover to a named replica (no quorum check; the old primary is fenced)')
    .option('--to <node>', 'the replica to promote (required)')
    .option('--force', 'required: promote without the probes’ quorum')
    .option('--reason <text>', 'recorded in the lease and the event')
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--timeout <seconds>', 'stop following the run after this long', positiveInt, 300)
    .addOption(json())
    .action((_o, cmd: Command) =>
      act(
        cmd,
        async (ctx, out) => {
          const o = cmd.opts<{ to?: string; force?: boolean; reason?: string; yes?: boolean; timeout: number }>();
          return (await import('./commands/run')).runCommand(ctx, 'failover', { ...o, timeoutSec: o.timeout }, out);
        },
        () => checkFailoverFlags(cmd.opts()),
      ),
    );

  program
    .command('pause')
    .description('no automatic failover until resume (switchover still works)')
    .option('--reason <text>', 'recorded in the lease')
    .option('-y, --yes', 'do not ask for confirmation')
    .addOption(json())
    .action((_o, cmd: Command) =>
      act(cmd, async (ctx, out) => (await import('./commands/lease')).pauseCommand(ctx, cmd.opts(), out)),
    );

  program
    .command('resume')
    .description('back to steady from paused or needs-attention (which needs --primary)')
    .option('--primary <node>', 'the primary you verified (required after needs-attention)')
    .option('--reason <text>', 'recorded in the lease')
    .option('-y, --yes', 'do not ask for confirmation')
    .addOption(json())
    .action((_o, cmd: Command) =>
      act(cmd, async (ctx, out) => (await import('./commands/lease')).resumeCommand(ctx, cmd.opts(), out)),
    );

  program
    .command('lease')
    .description('operate on the lease itself')
    .command('break')
    .description('clear a stuck in-flight lease to needs-attention (refused while its holder execution still runs)')
    .requiredOption('--epoch <n>', 'the epoch you mean to break (the lease must still be at it)', positiveInt)
    .option('--reason <text>', 'recorded in the lease')
    .option('-y, --yes', 'do not ask for confirmation')
    .addOption(json())
    .action((_o, cmd: Command) =>
      act(cmd, async (ctx, out) => (await import('./commands/lease')).leaseBreakCommand(ctx, cmd.opts(), out)),
    );

  program
    .command('rejoin <node>')
    .description('re-run the rejoin of a node a failover left behind (pg_rewind or re-clone, then follow)')
    .option('-y, --yes', 'do not ask for confirmation')
    .addOption(json())
    .action((node: string, _o, cmd: Command) =>
      act(cmd, async (ctx, out) => (await import('./commands/rejoin')).rejoinCommand(ctx, node, cmd.opts(), out)),
    );

  return program;
}

/** Runs the CLI; resolves with the process exit code (never throws). */
export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  quietNode20Warning();
  let code: number = EXIT.ok;
  const fail = (err: unknown) => {
    io.stderr(`pgquorum: ${(err as Error).message.split('\n')[0]}\n`);
    code = exitCodeOf(err);
  };
  const program = buildProgram(async (cmd, body, pre) => {
    const all = cmd.optsWithGlobals<GlobalOptions & { json?: boolean }>();
    try {
      pre?.();
      // Loaded on use: the SDK clients behind the context take most of a second to load, and `--help` needs none.
      const { makeContext } = await import('./context');
      const ctx = await makeContext(all);
      await body(ctx, makeOutput(Boolean(all.json), io.stdout, io.stderr));
    } catch (err) {
      fail(err);
    }
  }, io);
  try {
    await program.parseAsync([...argv]);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit 0; every other parse error (commander printed its line) is bad usage.
      return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    fail(err);
  }
  return code;
}
