/**
 * Synthesizes the CDK app in-process (no cdk CLI) and hands back what another
 * runtime needs to run the SAME controller: the bundled code of every function
 * and the state-machine definition, with CloudFormation references replaced by
 * placeholders the caller fills in (the lab deploys them into its emulator).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { App, AssetStaging, type CfnResource, Stack } from 'aws-cdk-lib';
import { buildApp } from './app';
import { withCapturedOutput } from './captured-output';
import type { TaskName } from './constructs/tasks';

/** One synthesized Lambda function. */
export interface SynthFunction {
  /** The task name (a key of TASKS), or `probe-<az>` for a probe. */
  readonly name: string;
  readonly kind: 'task' | 'probe';
  /** For probes: the AZ it is pinned to. */
  readonly az?: string;
  /** Logical id in the template. */
  readonly logicalId: string;
  /** Folder of the esbuild bundle (holds index.js): zip it as-is for Lambda. */
  readonly assetDir: string;
  /** Lambda handler setting, e.g. `index.handler`. */
  readonly handler: string;
  /** Lambda runtime, e.g. `nodejs22.x`. */
  readonly runtime: string;
  /** Seconds. */
  readonly timeout: number;
  /** MB. */
  readonly memorySize: number;
  /**
   * The environment with every reference the synth can resolve turned into a
   * plain string; the others are placeholders (see {@link placeholderFor}).
   */
  readonly environment: Record<string, string>;
  /** Names of the variables whose value still holds a placeholder. */
  readonly unresolvedEnvironment: string[];
}

/** What {@link synthArtifacts} returns. */
export interface SynthArtifacts {
  /** The cloud assembly folder (kept: the asset folders live in it). */
  readonly outdir: string;
  readonly stackName: string;
  /** The stack's CloudFormation template. */
  readonly template: Record<string, unknown>;
  readonly stateMachineLogicalId: string;
  /**
   * The Amazon States Language definition (a JSON string) with every task
   * function's ARN replaced by `${fn:<taskName>}`; any other reference becomes
   * a placeholder as well (see {@link placeholderFor}).
   */
  readonly stateMachineDefinition: string;
  /** Every task function (in TASKS order), then the three probes. */
  readonly functions: SynthFunction[];
}

/** Options of {@link synthArtifacts}. */
export interface SynthArtifactsOptions {
  /** Where to write the cloud assembly (default: a fresh temporary folder). It is emptied first. */
  readonly outdir?: string;
  /** Extra context (e.g. `{ 'aws:cdk:bundling-stacks': [] }` to skip bundling when only the definition matters). */
  readonly context?: Record<string, unknown>;
}

type Cfn = Record<string, unknown>;
type CfnResourceJson = { Type: string; Properties?: Cfn };

/**
 * The placeholder used for a reference to resource `logicalId` of type
 * `type`: `${fn:<task>}` / `${fn:probe-<az>}` for our functions, `${table}`,
 * `${topic}`, `${secret}`, `${stateMachine}` for the single resources of those
 * types, `${ref:<logicalId>}` / `${att:<logicalId>.<attr>}` for anything else.
 */
export function placeholderFor(
  logicalId: string,
  type: string | undefined,
  fnNames: Readonly<Record<string, string>>,
  attr?: string,
): string {
  const fn = fnNames[logicalId];
  if (fn && (attr === undefined || attr === 'Arn')) return `\${fn:${fn}}`;
  if (attr === undefined || attr === 'Arn') {
    const named: Record<string, string> = {
      'AWS::DynamoDB::Table': 'table',
      'AWS::SNS::Topic': 'topic',
      'AWS::SecretsManager::Secret': 'secret',
      'AWS::StepFunctions::StateMachine': 'stateMachine',
    };
    // A table's Ref is its name; the others' Ref is their ARN: either way one value per resource.
    const n = type ? named[type] : undefined;
    if (n && attr === undefined) return `\${${n}}`;
  }
  return attr === undefined ? `\${ref:${logicalId}}` : `\${att:${logicalId}.${attr}}`;
}

/**
 * Turns a CloudFormation value (string, Ref, Fn::GetAtt, Fn::Join, Fn::Select,
 * Fn::Split) into a string: pseudo parameters from `pseudo`, resource
 * references into placeholders. Throws on an intrinsic it does not know.
 */
export function resolveCfnString(
  value: unknown,
  resources: Readonly<Record<string, CfnResourceJson>>,
  fnNames: Readonly<Record<string, string>>,
  pseudo: Readonly<Record<string, string>>,
): string {
  const r = (v: unknown) => resolveCfnString(v, resources, fnNames, pseudo);
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  const v = value as Cfn;
  if (v && 'Ref' in v) {
    const id = String(v.Ref);
    if (id.startsWith('AWS::')) return pseudo[id] ?? `\${${id}}`;
    return placeholderFor(id, resources[id]?.Type, fnNames);
  }
  if (v && 'Fn::GetAtt' in v) {
    const ga = v['Fn::GetAtt'];
    const [id, attr] = Array.isArray(ga) ? (ga as [string, string]) : (String(ga).split('.') as [string, string]);
    return placeholderFor(id, resources[id]?.Type, fnNames, attr);
  }
  if (v && 'Fn::Join' in v) {
    const [sep, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map(r).join(sep);
  }
  if (v && 'Fn::Select' in v) {
    const [i, list] = v['Fn::Select'] as [number | string, unknown];
    const items = Array.isArray(list) ? list.map(r) : r(list).split(',');
    const item = items[Number(i)];
    if (item === undefined) throw new Error(`Fn::Select index ${i} out of range`);
    return item;
  }
  if (v && 'Fn::Split' in v) {
    const [sep, src] = v['Fn::Split'] as [string, unknown];
    return r(src).split(sep).join(',');
  }
  throw new Error(`cannot resolve ${JSON.stringify(value).slice(0, 160)}`);
}

const PLACEHOLDER = /\$\{[^}]+\}/;

/**
 * Synthesizes the app with `config` (the value of the `pgquorum` context key;
 * validated exactly as `cdk synth` validates it) into `opts.outdir` and
 * extracts the bundles and the state-machine definition. Bundling uses the
 * local esbuild (no Docker), one bundle per function.
 */
export function synthArtifacts(config: unknown, opts: SynthArtifactsOptions = {}): SynthArtifacts {
  const outdir = opts.outdir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'pgq-synth-'));
  fs.rmSync(outdir, { recursive: true, force: true });
  fs.mkdirSync(outdir, { recursive: true });
  // CDK caches staged assets per process by source hash: a second synth into the same outdir (the bench restarting
  // the lab in async mode) would otherwise point at bundles inside the folder just emptied.
  AssetStaging.clearAssetHashCache();
  const { stack, assembly } = withCapturedOutput(() => {
    const app = new App({ outdir, context: { ...opts.context, pgquorum: config } });
    return { stack: buildApp(app).stack, assembly: app.synth() };
  });
  const template = assembly.getStackByName(stack.stackName).template as Cfn;
  const resources = template.Resources as Record<string, CfnResourceJson>;

  const logicalIdOf = (c: { node: { defaultChild?: unknown } }) =>
    Stack.of(stack).getLogicalId(c.node.defaultChild as CfnResource);
  const entries: { name: string; kind: 'task' | 'probe'; az?: string; logicalId: string }[] = [
    ...(Object.entries(stack.functions) as [TaskName, (typeof stack.functions)[TaskName]][]).map(([name, f]) => ({
      name,
      kind: 'task' as const,
      logicalId: logicalIdOf(f),
    })),
    ...stack.probes.map((f, i) => {
      const az = stack.config.probeSubnets[i]!.az;
      return { name: `probe-${az}`, kind: 'probe' as const, az, logicalId: logicalIdOf(f) };
    }),
  ];
  const fnNames = Object.fromEntries(entries.map((e) => [e.logicalId, e.name]));
  const pseudo: Record<string, string> = {
    'AWS::Partition': 'aws',
    'AWS::Region': stack.config.region,
    ...(stack.config.account ? { 'AWS::AccountId': stack.config.account } : {}),
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::StackName': stack.stackName,
  };
  const str = (v: unknown) => resolveCfnString(v, resources, fnNames, pseudo);

  const functions: SynthFunction[] = entries.map((e) => {
    const res = resources[e.logicalId];
    if (res?.Type !== 'AWS::Lambda::Function')
      throw new Error(`no function ${e.logicalId} (${e.name}) in the template`);
    const p = res.Properties ?? {};
    const key = str((p.Code as Cfn).S3Key);
    const assetDir = path.join(outdir, `asset.${key.replace(/\.zip$/, '')}`);
    const vars = ((p.Environment as Cfn | undefined)?.Variables ?? {}) as Record<string, unknown>;
    const environment = Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, str(v)]));
    return {
      ...e,
      assetDir,
      handler: String(p.Handler),
      runtime: String(p.Runtime),
      timeout: Number(p.Timeout ?? 3),
      memorySize: Number(p.MemorySize ?? 128),
      environment,
      unresolvedEnvironment: Object.entries(environment)
        .filter(([, v]) => PLACEHOLDER.test(v))
        .map(([k]) => k),
    };
  });

  const sm = Object.entries(resources).find(([, r]) => r.Type === 'AWS::StepFunctions::StateMachine');
  if (!sm) throw new Error('no state machine in the template');
  const [stateMachineLogicalId, smRes] = sm;
  const stateMachineDefinition = str(smRes.Properties?.DefinitionString);
  return {
    outdir,
    stackName: stack.stackName,
    template,
    stateMachineLogicalId,
    stateMachineDefinition,
    functions,
  };
}

/** Replaces `${...}` placeholders in a definition or environment value; throws on any left unfilled. */
export function fillPlaceholders(text: string, values: Readonly<Record<string, string>>): string {
  const out = text.replace(/\$\{([^}]+)\}/g, (m, k: string) => values[k] ?? m);
  const left = PLACEHOLDER.exec(out);
  if (left) throw new Error(`no value for placeholder ${left[0]}`);
  return out;
}
