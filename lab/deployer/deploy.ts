/**
 * Deploys the controller into the lab's emulator: the SAME bundles and the SAME
 * state-machine definition `cdk deploy` would ship, synthesized in-process from
 * the CDK app with the lab's ids as configuration. Only what differs between a
 * real account and one machine is overridden: credentials come from the
 * environment instead of Secrets Manager, SSM is the lab's own Run Command
 * service (lab/world/ssm-service.ts, through AWS_ENDPOINT_URL_SSM: the product's SSM
 * adapter runs unchanged), and each probe reaches the nodes through its own
 * AZ's gate path.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  DeleteRuleCommand,
  EventBridgeClient,
  PutRuleCommand,
  PutTargetsCommand,
  RemoveTargetsCommand,
} from '@aws-sdk/client-eventbridge';
import {
  CreateFunctionCommand,
  type CreateFunctionCommandInput,
  DeleteFunctionCommand,
  GetFunctionCommand,
  InvokeCommand,
  LambdaClient,
  PutFunctionEventInvokeConfigCommand,
  type PutFunctionEventInvokeConfigCommandInput,
  ResourceNotFoundException,
} from '@aws-sdk/client-lambda';
import {
  CreateStateMachineCommand,
  DeleteStateMachineCommand,
  DescribeStateMachineCommand,
  ListStateMachinesCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { CreateTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import { TASKS, type TaskName } from '../../infra/constructs/tasks';
import { fillPlaceholders, type SynthArtifacts, synthArtifacts } from '../../infra/synth-artifacts';
import { type ControllerSettings, DEFAULT_SETTINGS } from '../../lambdas/core/settings';
import { HOST_SCRIPTS } from '../../lambdas/ports/host-command-port';
import type { Lab } from '../world/index';
import { DEPLOYMENT_FILE, LAB_DIR, PG_BIN, REPO_ROOT } from '../world/paths';
import { readLabState } from '../world/state';
import { LAB_CA_FILE } from '../world/tls';
import {
  LAB_AZS,
  LAB_CLUSTER,
  LAB_CONTROLLER_PASSWORD,
  LAB_CONTROLLER_USER,
  LAB_REPL_USER,
  LAB_REWIND_USER,
  LAB_TABLE,
  LAB_VPC_CIDR,
  LAB_ZONE_NAME,
} from '../world/topology';
import { type LabDeploymentRecord, writeLabOutputs } from './outputs';

/** Options of a lab deployment. */
export interface DeployOptions {
  /** Threshold overrides (defaults: the product defaults, with the lab's replication mode). */
  settings?: Partial<ControllerSettings>;
  /** How long one probe invocation loops (default 55 s, as on AWS). */
  probeRunMs?: number;
  /** Also create the every-minute schedules that restart the probes (the demo does; tests start probes by hand). */
  schedules?: boolean;
  onProgress?: (msg: string) => void;
}

/** What was deployed. */
export interface LabDeployment {
  /** How each probe function was created, so drills can restart the probe loops from scratch. */
  probeSpecs: CreateFunctionCommandInput[];
  /** The probes' asynchronous-invocation settings, as synthesized (no retries: see the stack). */
  probeInvokeConfig: Omit<PutFunctionEventInvokeConfigCommandInput, 'FunctionName'>;
  stateMachineArn: string;
  functionNames: Record<string, string>;
  probeNames: string[];
  /** The state-machine definition exactly as deployed (ARNs resolved). */
  definition: string;
}

type Cfn = Record<string, unknown>;
const ROLE = 'arn:aws:iam::000000000000:role/pgquorum-lab';
const FN_PREFIX = 'pgq-lab';

function clients() {
  return {
    lambda: new LambdaClient({}),
    sfn: new SFNClient({}),
    eb: new EventBridgeClient({}),
    sns: new SNSClient({}),
  };
}

/** The deployment config a real account would have, made of the lab's seeded ids. */
export function labDeployConfig(lab: Lab, settings: Partial<ControllerSettings> = {}) {
  return {
    cluster: LAB_CLUSTER,
    region: 'us-east-1',
    vpcId: lab.ids.vpcId,
    vpcCidr: LAB_VPC_CIDR,
    probeSubnets: LAB_AZS.map((az) => ({ subnetId: lab.ids.subnets[az]!, az })),
    nodes: lab.state.ports.nodes.map((n) => ({
      name: n.name,
      instanceId: lab.ids.nodes[n.name]!.instanceId,
      az: n.az,
      privateIp: n.privateIp,
      port: 5432,
      securityGroupId: lab.ids.nodes[n.name]!.securityGroupId,
    })),
    initialPrimary: 'pg1',
    hostedZoneId: lab.ids.hostedZoneId,
    zoneName: LAB_ZONE_NAME,
    recordTtlSec: 1,
    thresholds: { ...DEFAULT_SETTINGS, replicationMode: lab.state.mode, ...settings },
    dbSslMode: 'verify-full',
    dbCaBundle: LAB_CA_FILE,
    dbHostCaFile: LAB_CA_FILE,
  };
}

/**
 * Synthesizes the CDK app for the lab through the product's own walker (infra/synth-artifacts.ts), so the lab
 * deploys exactly the bundles, environment and definition `cdk deploy` would, resolved the same way.
 */
export function synthForLab(lab: Lab, settings: Partial<ControllerSettings> = {}): SynthArtifacts {
  return synthArtifacts(labDeployConfig(lab, settings), { outdir: path.join(LAB_DIR, 'cdk.out') });
}

/** Zips a bundle folder; `extra` files (absolute paths) go in at the zip's top level under their own names. */
function zipDir(dir: string, extra: string[] = []): Buffer {
  const out = path.join(LAB_DIR, `bundle-${path.basename(dir)}${extra.length ? '-shim' : ''}.zip`);
  fs.rmSync(out, { force: true });
  const files = fs.readdirSync(dir);
  // Python's zipfile is on every machine the lab runs on; no zip binary needed.
  execFileSync('python3', ['-m', 'zipfile', '-c', out, ...files, ...extra], { cwd: dir });
  return fs.readFileSync(out);
}

/**
 * The lab-only wrapper every task function runs (lab/deployer/task-shim.js): the profile's invoke latency before the
 * handler, and the fault switch after it. Added to the zip beside the bundle; the definition is untouched.
 */
export const TASK_SHIM = path.join(REPO_ROOT, 'lab', 'deployer', 'task-shim.js');
const TASK_SHIM_HANDLER = `${path.basename(TASK_SHIM, '.js')}.handler`;

async function deleteIfExists(name: string): Promise<void> {
  const { lambda } = clients();
  try {
    await lambda.send(new GetFunctionCommand({ FunctionName: name }));
    await lambda.send(new DeleteFunctionCommand({ FunctionName: name }));
  } catch (err) {
    if (!(err instanceof ResourceNotFoundException)) throw err;
  }
}

/** Environment every lab function gets on top of the synthesized one. */
function labEnv(lab: Lab, topicArn: string): Record<string, string> {
  return {
    PGQ_TABLE: LAB_TABLE,
    PGQ_TOPIC_ARN: topicArn,
    // The controller's least-privileged role; the replication and rewind passwords stay on the hosts.
    PGQ_DB_USER: LAB_CONTROLLER_USER,
    PGQ_DB_PASSWORD: LAB_CONTROLLER_PASSWORD,
    PGQ_REPL_USER: LAB_REPL_USER,
    PGQ_REWIND_USER: LAB_REWIND_USER,
    // verify-full against the CA `lab up` generated (each node's certificate has IP SAN 127.0.0.1).
    PGQ_DB_SSL_MODE: 'verify-full',
    PGQ_DB_CA_BUNDLE: LAB_CA_FILE,
    PGQ_HOST_CA_FILE: LAB_CA_FILE,
    // ministack runs Run Command only on Docker-backed instances: SSM calls go to the lab's service, which runs
    // each document's script as the node's host would (the SDK v3 honours service-specific endpoint variables).
    AWS_ENDPOINT_URL_SSM: `http://127.0.0.1:${lab.state.ports.ssm}`,
    // ministack does not turn EMF log lines into metrics: the lab publishes with PutMetricData (one call per round).
    PGQ_METRICS_SINK: 'api',
    // The lab-only task shim asks the supervisor whether a fault is armed for its task.
    PGQ_LAB_CONTROL_URL: `http://127.0.0.1:${lab.state.controlPort}`,
    // Every AWS call a function makes goes through the lab's AWS endpoint (the proxy that models the profile).
    AWS_ENDPOINT_URL: lab.awsEnv.AWS_ENDPOINT_URL!,
    PGQ_PGBIN: PG_BIN,
    // The lab's hosts share one machine, each with its own data directory, so no one absolute path names every
    // node's passfile; relative to the data directory (a walreceiver's working directory) one path does.
    PGQ_PASSFILE: '../.pgpass-pgquorum',
    // The lab reaches each node through its gate on loopback: the registry the lab seeds says so, and the config
    // the functions check it against must say the same (the synthesized one names the emulated private IPs).
    PGQ_NODES: JSON.stringify(
      lab.state.ports.nodes.map((n) => ({
        name: n.name,
        host: '127.0.0.1',
        port: n.gatePorts.client,
        replicationHost: '127.0.0.1',
        replicationPort: n.gatePorts.repl,
        securityGroupId: lab.state.ids.nodes[n.name]!.securityGroupId,
      })),
    ),
    PGQ_ALLOWED_INGRESS: JSON.stringify({ cidrs: [LAB_VPC_CIDR], securityGroupIds: [] }),
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}

/**
 * A function's lab environment: the synthesized one, the lab's, then its own. A function the stack gives no
 * database access (PGQ_DB_ACCESS=none, no right to the secret) gets no lab credentials either, so the lab proves
 * it never needs them.
 */
function labVariables(
  synthesized: Record<string, string>,
  base: Record<string, string>,
  extra: Record<string, string>,
): Record<string, string> {
  const out = { ...synthesized, ...base, ...extra };
  if (synthesized.PGQ_DB_ACCESS === 'none') {
    for (const k of ['PGQ_DB_USER', 'PGQ_DB_PASSWORD', 'PGQ_REPL_USER', 'PGQ_REPL_PASSWORD']) delete out[k];
  }
  return out;
}

/** Deploys (or re-deploys) the controller into the lab's emulator. */
export async function deployToLab(lab: Lab, opts: DeployOptions = {}): Promise<LabDeployment> {
  Object.assign(process.env, lab.awsEnv);
  const say = opts.onProgress ?? (() => undefined);
  say('synthesizing the CDK app with the lab as configuration (bundling every function with esbuild: about 15 s)');
  const synth = synthForLab(lab, opts.settings);
  const { template } = synth;
  const resources = template.Resources as Record<string, { Type: string; Properties: Cfn }>;
  const { lambda, sfn, eb, sns } = clients();
  await undeployFromLab();
  const topicArn = (await sns.send(new CreateTopicCommand({ Name: 'pgquorum-lab-alerts' }))).TopicArn!;
  const baseEnv = labEnv(lab, topicArn);

  const fnFromTemplate = (name: string) => {
    const f = synth.functions.find((x) => x.name === name);
    if (!f) throw new Error(`no function ${name} in the synthesized template`);
    // What still names a resource of the stack (table, topic, secrets, state machine) the lab sets itself.
    const env = Object.fromEntries(
      Object.entries(f.environment).filter(([k]) => !f.unresolvedEnvironment.includes(k) && k !== 'PGQ_DB_SECRET_ARN'),
    );
    return { ...f, env, memory: f.memorySize };
  };

  const specOf = (
    name: string,
    f: ReturnType<typeof fnFromTemplate>,
    extra: Record<string, string>,
    timeout = f.timeout,
    shim = false,
  ) => ({
    FunctionName: name,
    Runtime: 'nodejs22.x' as const,
    Role: ROLE,
    Handler: shim ? TASK_SHIM_HANDLER : 'index.handler',
    Code: { ZipFile: zipDir(f.assetDir, shim ? [TASK_SHIM] : []) },
    Timeout: timeout,
    MemorySize: f.memory,
    Environment: { Variables: labVariables(f.env, baseEnv, extra) },
  });
  const createTask = async (name: string, f: ReturnType<typeof fnFromTemplate>, task: TaskName) =>
    (
      await lambda.send(
        new CreateFunctionCommand(
          specOf(
            name,
            f,
            { PGQ_LAB_TASK: task, PGQ_LAB_TASK_LATENCY: JSON.stringify(lab.cloud.taskInvokeLatency) },
            f.timeout,
            true,
          ),
        ),
      )
    ).FunctionArn!;

  say("registering the stack's SSM documents with the lab's SSM service");
  await registerSsmDocuments(lab, resources);

  say('creating the task functions in the emulator');
  const taskArns: Record<string, string> = {};
  const functionNames: Record<string, string> = {};
  for (const name of Object.keys(TASKS) as TaskName[]) {
    const f = fnFromTemplate(name);
    functionNames[name] = `${FN_PREFIX}-${name}`;
    taskArns[name] = await createTask(functionNames[name], f, name);
  }

  say('warming the task functions (the stack keeps them warm with a 5-minute ping)');
  await Promise.all(
    Object.values(functionNames).map((name) =>
      lambda.send(new InvokeCommand({ FunctionName: name, Payload: Buffer.from(JSON.stringify({ warmup: true })) })),
    ),
  );

  say('creating the state machine from the synthesized definition');
  const definition = fillPlaceholders(synth.stateMachineDefinition, {
    ...Object.fromEntries(Object.entries(taskArns).map(([task, arn]) => [`fn:${task}`, arn])),
    'AWS::AccountId': '000000000000',
  });
  const stateMachineArn = (
    await sfn.send(
      new CreateStateMachineCommand({ name: `${FN_PREFIX}-failover`, definition, roleArn: ROLE, type: 'STANDARD' }),
    )
  ).stateMachineArn!;
  // The lab changes how tasks run (the shim), never what the workflow is: the definition must be the synthesized one.
  const deployed = await sfn.send(new DescribeStateMachineCommand({ stateMachineArn }));
  if (JSON.stringify(JSON.parse(deployed.definition ?? '{}')) !== JSON.stringify(JSON.parse(definition))) {
    throw new Error('the deployed state-machine definition differs from the synthesized one');
  }

  say('creating the probes, one per AZ, each through its own gate path');
  const probeNames: string[] = [];
  const probeSpecs: CreateFunctionCommandInput[] = [];
  let probeInvokeConfig: LabDeployment['probeInvokeConfig'] | undefined;
  for (const [i, az] of LAB_AZS.entries()) {
    const f = fnFromTemplate(`probe-${az}`);
    const eic = Object.values(resources).find(
      (r) =>
        r.Type === 'AWS::Lambda::EventInvokeConfig' &&
        (r.Properties.FunctionName as { Ref?: string } | undefined)?.Ref === f.logicalId,
    );
    if (!eic) throw new Error(`the synthesized Probe${i + 1} has no EventInvokeConfig (asynchronous retries)`);
    probeInvokeConfig = {
      Qualifier: '$LATEST',
      MaximumRetryAttempts: Number(eic.Properties.MaximumRetryAttempts),
      MaximumEventAgeInSeconds: Number(eic.Properties.MaximumEventAgeInSeconds),
    };
    const pathName = (['az-a', 'az-b', 'az-c'] as const)[i]!;
    const overrides = Object.fromEntries(
      lab.state.ports.nodes.map((n) => [n.name, `127.0.0.1:${n.gatePorts[pathName]}`]),
    );
    const name = `${FN_PREFIX}-probe-${az}`;
    const runMs = opts.probeRunMs ?? 55000;
    // A probe invocation may not outlive its Lambda timeout: a long lab run gets a matching timeout.
    const spec = specOf(
      name,
      f,
      {
        PGQ_STATE_MACHINE_ARN: stateMachineArn,
        PGQ_NODE_ADDRESS_OVERRIDES: JSON.stringify(overrides),
        PGQ_PROBE_RUN_MS: String(runMs),
      },
      Math.max(f.timeout, Math.ceil(runMs / 1000) + 10),
    );
    await createProbe(spec, probeInvokeConfig);
    probeSpecs.push(spec);
    probeNames.push(name);
  }

  // The backstop's EventBridge rule, as synthesized (ministack cannot evaluate the metric-math alarm itself:
  // drills publish the alarm's state-change event to exercise the rule -> state machine path).
  const rule = Object.values(resources).find(
    (r) => r.Type === 'AWS::Events::Rule' && (r.Properties.EventPattern as Cfn | undefined),
  );
  if (rule) {
    const target = ((rule.Properties.Targets as Cfn[]) ?? [])[0]!;
    await eb.send(
      new PutRuleCommand({
        Name: `${FN_PREFIX}-quorum-down`,
        EventPattern: JSON.stringify({ ...(rule.Properties.EventPattern as Cfn), resources: undefined }),
        State: 'ENABLED',
      }),
    );
    await eb.send(
      new PutTargetsCommand({
        Rule: `${FN_PREFIX}-quorum-down`,
        Targets: [{ Id: 'failover', Arn: stateMachineArn, RoleArn: ROLE, Input: String(target.Input) }],
      }),
    );
  }
  if (opts.schedules) {
    for (const name of probeNames) {
      const fnArn = (await lambda.send(new GetFunctionCommand({ FunctionName: name }))).Configuration!.FunctionArn!;
      await eb.send(
        new PutRuleCommand({ Name: `${name}-schedule`, ScheduleExpression: 'rate(1 minute)', State: 'ENABLED' }),
      );
      await eb.send(new PutTargetsCommand({ Rule: `${name}-schedule`, Targets: [{ Id: 'probe', Arn: fnArn }] }));
    }
  }
  const record: LabDeploymentRecord & { probeNames: string[] } = {
    stateMachineArn,
    functionNames,
    probeNames,
    // The stack's own Settings output: the thresholds the deployed functions enforce (a drill may deploy others).
    settings: String((template.Outputs as Record<string, { Value?: unknown }> | undefined)?.Settings?.Value ?? ''),
  };
  fs.writeFileSync(DEPLOYMENT_FILE, JSON.stringify(record, null, 2));
  writeLabOutputs(lab.state, record);
  return { stateMachineArn, functionNames, probeNames, probeSpecs, probeInvokeConfig: probeInvokeConfig!, definition };
}

/**
 * Tells the lab's SSM service which Command documents the stack creates, with
 * their declared parameters and allowed patterns, so SendCommand refuses what
 * SSM would (an undeclared parameter, a value with a quote or a newline).
 */
async function registerSsmDocuments(
  lab: Lab,
  resources: Record<string, { Type: string; Properties: Cfn }>,
): Promise<void> {
  const documents: Record<string, { script: string; parameters: unknown }> = {};
  for (const r of Object.values(resources)) {
    if (r.Type !== 'AWS::SSM::Document') continue;
    const name = String(r.Properties.Name);
    const script = HOST_SCRIPTS.find((s) => name.endsWith(`-${s}`));
    if (!script) throw new Error(`the synthesized SSM document ${name} runs no known host script`);
    documents[name] = { script, parameters: (r.Properties.Content as Cfn).parameters ?? {} };
  }
  const res = await fetch(`${lab.controlUrl}/ssm-documents`, { method: 'POST', body: JSON.stringify({ documents }) });
  if (!res.ok) throw new Error(`registering SSM documents with the lab: HTTP ${res.status} ${await res.text()}`);
}

/** Creates a probe function with its asynchronous-invocation settings, before anything can invoke it. */
async function createProbe(
  spec: CreateFunctionCommandInput,
  invokeConfig: LabDeployment['probeInvokeConfig'],
): Promise<void> {
  const { lambda } = clients();
  await lambda.send(new CreateFunctionCommand(spec));
  await lambda.send(new PutFunctionEventInvokeConfigCommand({ FunctionName: spec.FunctionName, ...invokeConfig }));
}

/** Ends every running probe loop (deleting the function ends its worker) and starts fresh ones. */
export async function restartProbes(d: LabDeployment, opts: { start?: boolean } = {}): Promise<void> {
  for (const spec of d.probeSpecs) {
    await deleteIfExists(spec.FunctionName!);
    await createProbe(spec, d.probeInvokeConfig);
  }
  if (opts.start !== false) await startProbes(d);
}

/** Ends every running probe loop without starting new ones. */
export async function stopProbes(d: LabDeployment): Promise<void> {
  for (const spec of d.probeSpecs) await deleteIfExists(spec.FunctionName!);
}

/** Ends the probe loop of one AZ (an AZ outage takes its probe with it); restartProbes() brings it back. */
export async function stopProbeInAz(az: string): Promise<void> {
  await deleteIfExists(`${FN_PREFIX}-probe-${az}`);
}

/** Starts every probe loop now (asynchronous invocations), instead of waiting for the schedule. */
export async function startProbes(d: LabDeployment): Promise<void> {
  const { lambda } = clients();
  for (const name of d.probeNames) {
    await lambda.send(new InvokeCommand({ FunctionName: name, InvocationType: 'Event', Payload: Buffer.from('{}') }));
  }
}

/** Removes the controller from the emulator; deleting a function also ends its running probe loop. */
export async function undeployFromLab(): Promise<void> {
  const { sfn, eb } = clients();
  for (const name of [
    ...Object.keys(TASKS).map((t) => `${FN_PREFIX}-${t}`),
    ...LAB_AZS.map((az) => `${FN_PREFIX}-probe-${az}`),
  ]) {
    await eb.send(new RemoveTargetsCommand({ Rule: `${name}-schedule`, Ids: ['probe'] })).catch(() => undefined);
    await eb.send(new DeleteRuleCommand({ Name: `${name}-schedule` })).catch(() => undefined);
    await deleteIfExists(name);
  }
  await eb
    .send(new RemoveTargetsCommand({ Rule: `${FN_PREFIX}-quorum-down`, Ids: ['failover'] }))
    .catch(() => undefined);
  await eb.send(new DeleteRuleCommand({ Name: `${FN_PREFIX}-quorum-down` })).catch(() => undefined);
  const machines = await sfn.send(new ListStateMachinesCommand({}));
  for (const m of machines.stateMachines ?? []) {
    if (m.name === `${FN_PREFIX}-failover`)
      await sfn.send(new DeleteStateMachineCommand({ stateMachineArn: m.stateMachineArn }));
  }
  // The CLI's --lab reads the outputs: stale ones would send it to a state machine that is gone.
  fs.rmSync(DEPLOYMENT_FILE, { force: true });
  const state = readLabState();
  if (state?.ready) writeLabOutputs(state, {});
}
