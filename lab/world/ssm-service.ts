/**
 * The lab's SSM Run Command service: a small HTTP server speaking the SSM JSON
 * protocol (`X-Amz-Target: AmazonSSM.<Action>`, awsJson1_1), so the product's
 * real SsmHostCommands adapter runs in the lab, reached through
 * AWS_ENDPOINT_URL_SSM (the SDK v3 honours service-specific endpoint
 * variables). The emulator's own SSM runs commands only on Docker-backed
 * instances; this one runs each document's script (infra/host-scripts) on this
 * machine as the node's "host", with AWS's statuses and timing:
 *
 * - SendCommand to an instance that is stopped, or not a lab node (no agent
 *   registered), fails with `InvalidInstanceId`, as the SendCommand reference
 *   lists for "SSM Agent isn't running / not registered" and an instance not
 *   in a valid state.
 * - An accepted command is `Pending` until the agent picks it up (the profile's
 *   `ssmDelivery`), `InProgress` while the script runs and until the result is
 *   reported (`ssmCompletion`), then `Success` or `Failed` (exit code), or
 *   `TimedOut`/`ExecutionTimedOut` past the document's execution timeout.
 * - A host whose agent is lost (host-loss with the instance running, a hung
 *   host) never picks it up: the invocation stays `Pending` and turns
 *   `TimedOut`/`DeliveryTimedOut` when the delivery timeout expires, which
 *   is TimeoutSeconds plus the execution timeout ("Understanding command
 *   statuses", Run Command user guide). If the agent comes back first, the
 *   command runs then, as the real agent would.
 * - DescribeInstanceInformation lists the lab's nodes (never a stopped one,
 *   as the API reference says); a lost agent's PingStatus turns
 *   `ConnectionLost` only after `connectionLostAfterMs`.
 *
 * Statuses advance on a 25 ms tick (and on every call), against an injectable
 * clock so tests can step time.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { ssmDocumentName } from '../../lambdas/core/contract';
import { HOST_SCRIPTS, type HostScript } from '../../lambdas/ports/host-command-port';
import { type CloudProfile, draw } from './cloud-profile';

/** What a host's SSM agent can do right now. */
export type AgentState = 'online' | 'lost' | 'stopped';

/** A managed node the service knows (one per lab node). */
export interface SsmHost {
  name: string;
  instanceId: string;
  privateIp: string;
}

/** Options of the lab SSM service. */
export interface LabSsmServiceOptions {
  /** Loopback port to listen on. */
  port: number;
  /** Where delivery and completion latency come from (`ideal`: none). */
  profile: CloudProfile;
  /** The registered managed nodes (read on each call: the emulator's ids change after a re-seed). */
  hosts: () => readonly SsmHost[];
  /** The agent's state on a node (by node name). */
  agent: (node: string) => AgentState;
  /** Environment the script gets on the node besides its parameters (PGDATA, how to start/stop PostgreSQL, passwords). */
  hostEnv: (node: string) => Record<string, string>;
  /** Documents are named `<documentPrefix>-<script>` (the stack's PGQ_SSM_DOCUMENT_PREFIX). */
  documentPrefix: string;
  /** Directory holding the host scripts (infra/host-scripts). */
  scriptsDir: string;
  log?: (msg: string) => void;
  /** @default Date.now */
  now?: () => number;
  /** @default Math.random */
  random?: () => number;
  /**
   * The documents' execution timeout (aws:runShellScript timeoutSeconds).
   * @default 900 (what infra/stacks/pgquorum-stack.ts sets)
   */
  executionTimeoutSec?: number;
  /**
   * How long after its agent was lost a node's PingStatus turns ConnectionLost.
   * @default CONNECTION_LOST_AFTER_MS for the profile
   */
  connectionLostAfterMs?: number;
}

/**
 * How long a lost agent still shows `Online`, by profile. AWS does not
 * document it; the agent reports its health about every 5 minutes, and the lab
 * assumes one missed report. `ideal` knows at once. See docs/emulator-notes.md.
 */
export const CONNECTION_LOST_AFTER_MS: Readonly<Record<CloudProfile['name'], number>> = {
  ideal: 0,
  aws: 300_000,
};

/** GetCommandInvocation returns at most this much of stdout and of stderr (API reference). */
export const STDOUT_LIMIT = 24_000;
export const STDERR_LIMIT = 8_000;

type Status = 'Pending' | 'Delayed' | 'InProgress' | 'Success' | 'Failed' | 'TimedOut' | 'Cancelled';

interface Invocation {
  commandId: string;
  instanceId: string;
  node: string;
  documentName: string;
  script: HostScript;
  params: Record<string, string>;
  comment: string;
  timeoutSeconds: number;
  requestedAt: number;
  /** When the agent would pick it up, if it is online then. */
  deliverAt: number;
  /** Past this, an undelivered (or unreported) invocation is DeliveryTimedOut. */
  expiresAt: number;
  status: Status;
  details: string;
  startedAt?: number;
  endedAt?: number;
  /** When GetCommandInvocation shows the result (the agent's report after the script ended). */
  reportAt?: number;
  result?: { code: number; stdout: string; stderr: string; timedOut: boolean };
  child?: ChildProcess;
}

/** A Command document as the stack declares it: the parameters SendCommand may pass, each with its allowed pattern. */
export interface SsmDocument {
  script: HostScript;
  parameters: Readonly<Record<string, { allowedPattern?: string }>>;
}

/** An SSM error as the JSON protocol carries it (`__type` names the exception). */
export class SsmServiceError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly httpStatus = 400,
  ) {
    super(message);
  }
}

const ACCOUNT = '000000000000';
const UNFINISHED: readonly Status[] = ['Pending', 'Delayed', 'InProgress'];
const secs = (ms: number) => ms / 1000;

/** The lab's SSM Run Command service (see the module comment). */
export class LabSsmService {
  private readonly invocations = new Map<string, Invocation>();
  /** Scripts whose delivery a drill holds (see hold()). */
  private readonly held = new Set<string>();
  private readonly lostSince = new Map<string, number>();
  /** The documents the deployed stack created; until a deployment registers them, any `<prefix>-<script>` is accepted. */
  private documents: Map<string, SsmDocument> | undefined;
  private server: http.Server | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly log: (msg: string) => void;

  constructor(private readonly opts: LabSsmServiceOptions) {
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.log = opts.log ?? (() => undefined);
  }

  private get executionTimeoutMs(): number {
    return (this.opts.executionTimeoutSec ?? 900) * 1000;
  }

  private get connectionLostAfterMs(): number {
    return this.opts.connectionLostAfterMs ?? CONNECTION_LOST_AFTER_MS[this.opts.profile.name];
  }

  /** Starts listening and ticking. */
  async listen(): Promise<void> {
    const server = http.createServer((req, res) => this.serve(req, res));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, '127.0.0.1', () => resolve());
    });
    this.timer = setInterval(() => this.advance(), 25);
    this.timer.unref();
  }

  /** Stops listening; scripts still running are killed (the lab is going down). */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    for (const inv of this.invocations.values()) inv.child?.kill('SIGKILL');
    const s = this.server;
    this.server = undefined;
    if (s?.listening) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** The documents a deployment created (from the synthesized template): SendCommand then checks names and parameters. */
  registerDocuments(docs: Readonly<Record<string, SsmDocument>>): void {
    this.documents = new Map(Object.entries(docs));
    this.log(`ssm: ${this.documents.size} document(s) registered`);
  }

  /** Forgets every invocation (lab reset); scripts still running are left to finish. */
  forget(): void {
    this.invocations.clear();
    this.held.clear();
  }

  /**
   * Holds (or releases) delivery of one host script: a drill times a fault to the moment the product waits on that
   * command, as a slow Run Command delivery would let it (the profile's latency is drawn, so no drill can rely on
   * it). A held invocation stays Pending; on release it is delivered at the next round.
   */
  hold(script: string, held: boolean): void {
    if (held) this.held.add(script);
    else this.held.delete(script);
    this.advance();
  }

  /** Invocations per status, for the supervisor's status route and tests. */
  summary(): { commandId: string; node: string; script: string; status: string; details: string }[] {
    this.advance();
    return [...this.invocations.values()].map((i) => ({
      commandId: i.commandId,
      node: i.node,
      script: i.script,
      status: i.status,
      details: i.details,
    }));
  }

  /** Moves every invocation along, as the agents and the service would by now. */
  advance(): void {
    const now = this.now();
    for (const h of this.opts.hosts()) {
      const a = this.opts.agent(h.name);
      if (a === 'online') this.lostSince.delete(h.name);
      else if (!this.lostSince.has(h.name)) this.lostSince.set(h.name, now);
    }
    for (const inv of this.invocations.values()) {
      if (!UNFINISHED.includes(inv.status)) continue;
      const agent = this.opts.agent(inv.node);
      const online = agent === 'online';
      if (inv.status !== 'InProgress') {
        if (now >= inv.expiresAt) this.finish(inv, 'TimedOut', 'DeliveryTimedOut');
        else if (online && now >= inv.deliverAt && !this.held.has(inv.script)) this.start(inv, now);
        // "Delayed: ... the target wasn't available ... because the node was stopped ... will try again."
        else if (agent === 'stopped' && inv.status === 'Pending') inv.status = inv.details = 'Delayed';
        else if (agent !== 'stopped' && inv.status === 'Delayed') inv.status = inv.details = 'Pending';
        continue;
      }
      if (!inv.result) {
        if (inv.startedAt !== undefined && now - inv.startedAt > this.executionTimeoutMs) inv.child?.kill('SIGKILL');
        continue;
      }
      // The script has ended; its result reaches the service only through a live agent.
      if (online && now >= (inv.reportAt ?? 0)) {
        const r = inv.result;
        if (r.timedOut) this.finish(inv, 'TimedOut', 'ExecutionTimedOut');
        else this.finish(inv, r.code === 0 ? 'Success' : 'Failed', r.code === 0 ? 'Success' : 'Failed');
      } else if (now >= inv.expiresAt) {
        this.finish(inv, 'TimedOut', 'DeliveryTimedOut');
      }
    }
  }

  private finish(inv: Invocation, status: Status, details: string): void {
    inv.status = status;
    inv.details = details;
    this.log(`ssm: ${inv.script} on ${inv.node} (${inv.commandId.slice(0, 8)}) ${status} (${details})`);
  }

  private start(inv: Invocation, now: number): void {
    inv.status = 'InProgress';
    inv.details = 'InProgress';
    inv.startedAt = now;
    const { SECRET_ID: _secretId, ...params } = inv.params;
    const env = { ...process.env, ...params, ...this.opts.hostEnv(inv.node) };
    const child = spawn('bash', [path.join(this.opts.scriptsDir, `${inv.script}.sh`)], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    inv.child = child;
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => {
      stdout += d;
    });
    child.stderr?.on('data', (d) => {
      stderr += d;
    });
    const started = now;
    child.on('error', (err) => {
      stderr += String(err.message);
    });
    child.on('close', (code, signal) => {
      const end = this.now();
      inv.endedAt = end;
      inv.child = undefined;
      const timedOut = signal === 'SIGKILL' && end - started > this.executionTimeoutMs;
      inv.result = { code: code ?? 1, stdout, stderr, timedOut };
      inv.reportAt = end + draw(this.opts.profile.ssmCompletion, this.random);
      this.advance();
    });
    this.log(`ssm: delivered ${inv.script} to ${inv.node} (${inv.commandId.slice(0, 8)})`);
  }

  private host(instanceId: string): SsmHost | undefined {
    return this.opts.hosts().find((h) => h.instanceId === instanceId);
  }

  private invalidInstance(ids: string[]): SsmServiceError {
    return new SsmServiceError(
      'InvalidInstanceId',
      `Instances [[${ids.join(', ')}]] not in a valid state for account ${ACCOUNT}`,
    );
  }

  /** One SSM action; the JSON protocol's body in and out. */
  handle(action: string, body: Record<string, unknown>): Record<string, unknown> {
    this.advance();
    switch (action) {
      case 'SendCommand':
        return this.sendCommand(body);
      case 'GetCommandInvocation':
        return this.getCommandInvocation(body);
      case 'ListCommandInvocations':
        return this.listCommandInvocations(body);
      case 'DescribeInstanceInformation':
        return this.describeInstanceInformation(body);
      default:
        throw new SsmServiceError('UnknownOperationException', `the lab's SSM service does not model ${action}`);
    }
  }

  private sendCommand(b: Record<string, unknown>): Record<string, unknown> {
    const ids = (b.InstanceIds as string[] | undefined) ?? [];
    if (b.Targets) throw new SsmServiceError('InvalidParameters', 'the lab models InstanceIds, not Targets');
    if (!ids.length) throw new SsmServiceError('InvalidInstanceId', 'no InstanceIds given');
    const bad = ids.filter((id) => {
      const h = this.host(id);
      return !h || this.opts.agent(h.name) === 'stopped';
    });
    if (bad.length) throw this.invalidInstance(bad);
    const name = String(b.DocumentName ?? '');
    const rawParams = (b.Parameters as Record<string, string[]> | undefined) ?? {};
    const script = this.documentScript(name, rawParams);
    const params = Object.fromEntries(Object.entries(rawParams).map(([k, v]) => [k, (v ?? []).join(',')]));
    // SendCommand's TimeoutSeconds: 30 to 2592000, default 3600 (API reference).
    const timeoutSeconds = Number(b.TimeoutSeconds ?? 3600);
    if (!(timeoutSeconds >= 30 && timeoutSeconds <= 2_592_000)) {
      throw new SsmServiceError('ValidationException', `TimeoutSeconds ${timeoutSeconds} is not within 30-2592000`);
    }
    const commandId = randomUUID();
    const now = this.now();
    const expiresAt = now + timeoutSeconds * 1000 + this.executionTimeoutMs;
    for (const instanceId of ids) {
      const h = this.host(instanceId)!;
      this.invocations.set(`${commandId}/${instanceId}`, {
        commandId,
        instanceId,
        node: h.name,
        documentName: name,
        script,
        params,
        comment: String(b.Comment ?? ''),
        timeoutSeconds,
        requestedAt: now,
        deliverAt: now + draw(this.opts.profile.ssmDelivery, this.random),
        expiresAt,
        status: 'Pending',
        details: 'Pending',
      });
    }
    this.log(`ssm: SendCommand ${script} to ${ids.join(', ')} (${commandId.slice(0, 8)})`);
    this.advance();
    return {
      Command: {
        CommandId: commandId,
        DocumentName: name,
        DocumentVersion: '$DEFAULT',
        Comment: String(b.Comment ?? ''),
        ExpiresAfter: secs(expiresAt),
        Parameters: rawParams,
        InstanceIds: ids,
        Targets: [],
        RequestedDateTime: secs(now),
        Status: 'Pending',
        StatusDetails: 'Pending',
        MaxConcurrency: '50',
        MaxErrors: '0',
        TargetCount: ids.length,
        CompletedCount: 0,
        ErrorCount: 0,
        DeliveryTimedOutCount: 0,
        TimeoutSeconds: timeoutSeconds,
      },
    };
  }

  /** The script a document runs, after SendCommand's checks of the document and its parameters. */
  private documentScript(name: string, params: Record<string, string[]>): HostScript {
    const missing = new SsmServiceError('InvalidDocument', `Document ${name} does not exist`);
    if (!this.documents) {
      const script = HOST_SCRIPTS.find((s) => name === ssmDocumentName(this.opts.documentPrefix, s));
      if (!script) throw missing;
      return script;
    }
    const doc = this.documents.get(name);
    if (!doc) throw missing;
    for (const [k, values] of Object.entries(params)) {
      const decl = doc.parameters[k];
      // SSM refuses a parameter the document does not declare, and a value its allowedPattern does not match.
      if (!decl) throw new SsmServiceError('InvalidParameters', `parameter ${k} is not defined in document ${name}`);
      const re = decl.allowedPattern ? new RegExp(decl.allowedPattern) : undefined;
      const bad = (values ?? []).find((v) => re && !re.test(v));
      if (bad !== undefined) {
        throw new SsmServiceError(
          'InvalidParameters',
          `parameter ${k} of document ${name} does not match its allowed pattern ${decl.allowedPattern}`,
        );
      }
    }
    return doc.script;
  }

  private invocation(commandId: string, instanceId: string): Invocation {
    const inv = this.invocations.get(`${commandId}/${instanceId}`);
    if (!inv) throw new SsmServiceError('InvocationDoesNotExist', '');
    return inv;
  }

  private getCommandInvocation(b: Record<string, unknown>): Record<string, unknown> {
    const inv = this.invocation(String(b.CommandId), String(b.InstanceId));
    const shown = UNFINISHED.includes(inv.status) ? undefined : inv.result;
    const iso = (t: number | undefined) => (t === undefined ? '' : new Date(t).toISOString());
    return {
      CommandId: inv.commandId,
      InstanceId: inv.instanceId,
      Comment: inv.comment,
      DocumentName: inv.documentName,
      DocumentVersion: '1',
      PluginName: 'run',
      ResponseCode: shown && !shown.timedOut ? shown.code : -1,
      ExecutionStartDateTime: iso(inv.startedAt),
      ExecutionEndDateTime: shown ? iso(inv.endedAt) : '',
      ExecutionElapsedTime: shown && inv.startedAt !== undefined ? `PT${secs(inv.endedAt! - inv.startedAt)}S` : '',
      Status: inv.status,
      StatusDetails: inv.details,
      StandardOutputContent: shown ? shown.stdout.slice(0, STDOUT_LIMIT) : '',
      StandardOutputUrl: '',
      StandardErrorContent: shown ? shown.stderr.slice(0, STDERR_LIMIT) : '',
      StandardErrorUrl: '',
    };
  }

  private listCommandInvocations(b: Record<string, unknown>): Record<string, unknown> {
    const list = [...this.invocations.values()].filter(
      (i) => (!b.CommandId || i.commandId === b.CommandId) && (!b.InstanceId || i.instanceId === b.InstanceId),
    );
    return {
      CommandInvocations: list.map((i) => {
        const shown = UNFINISHED.includes(i.status) ? undefined : i.result;
        return {
          CommandId: i.commandId,
          InstanceId: i.instanceId,
          InstanceName: i.node,
          Comment: i.comment,
          DocumentName: i.documentName,
          DocumentVersion: '1',
          RequestedDateTime: secs(i.requestedAt),
          Status: i.status,
          StatusDetails: i.details,
          ...(b.Details
            ? {
                CommandPlugins: [
                  {
                    Name: 'run',
                    Status: i.status,
                    StatusDetails: i.details,
                    ResponseCode: shown && !shown.timedOut ? shown.code : -1,
                    // ListCommandInvocations carries only the first 2,500 characters of output (API reference).
                    Output: shown ? shown.stdout.slice(0, 2500) : '',
                  },
                ],
              }
            : {}),
        };
      }),
    };
  }

  private describeInstanceInformation(b: Record<string, unknown>): Record<string, unknown> {
    const legacy = (b.InstanceInformationFilterList as { key: string; valueSet: string[] }[] | undefined) ?? [];
    const filters = (b.Filters as { Key: string; Values: string[] }[] | undefined) ?? [];
    const wanted = [
      ...legacy.filter((f) => f.key === 'InstanceIds').flatMap((f) => f.valueSet),
      ...filters.filter((f) => f.Key === 'InstanceIds').flatMap((f) => f.Values),
    ];
    const unknown = wanted.filter((id) => !this.host(id));
    if (unknown.length) throw this.invalidInstance(unknown);
    const now = this.now();
    const list = this.opts
      .hosts()
      .filter((h) => !wanted.length || wanted.includes(h.instanceId))
      // "This operation does not return information for nodes that are either Stopped or Terminated."
      .filter((h) => this.opts.agent(h.name) !== 'stopped')
      .map((h) => {
        const since = this.lostSince.get(h.name);
        const lost = since !== undefined && now - since >= this.connectionLostAfterMs;
        return {
          InstanceId: h.instanceId,
          PingStatus: lost ? 'ConnectionLost' : 'Online',
          LastPingDateTime: secs(since ?? now),
          AgentVersion: '3.3.1142.0',
          IsLatestVersion: true,
          PlatformType: 'Linux',
          PlatformName: 'Debian GNU/Linux',
          PlatformVersion: '12',
          ResourceType: 'EC2Instance',
          IPAddress: h.privateIp,
          ComputerName: `ip-${h.privateIp.replaceAll('.', '-')}.ec2.internal`,
        };
      });
    return { InstanceInformationList: list };
  }

  private serve(req: http.IncomingMessage, res: http.ServerResponse): void {
    let raw = '';
    req.on('data', (d) => {
      raw += d;
    });
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      const reply = (code: number, body: unknown) => {
        res.writeHead(code, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': randomUUID() });
        res.end(JSON.stringify(body));
      };
      try {
        if (!target.startsWith('AmazonSSM.')) throw new SsmServiceError('UnknownOperationException', target);
        const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
        reply(200, this.handle(target.slice('AmazonSSM.'.length), body));
      } catch (err) {
        const e = err instanceof SsmServiceError ? err : new SsmServiceError('InternalServerError', String(err), 500);
        reply(e.httpStatus, { __type: e.type, message: e.message });
      }
    });
  }
}
