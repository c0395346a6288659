import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { App, type Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';

/** Parsed JSON the tests poke into at arbitrary paths (typing every template and config shape buys nothing here). */
// biome-ignore lint/suspicious/noExplicitAny: tests mutate and read JSON at arbitrary paths.
export type Json = any;

/** A fresh copy of the sample configuration in cdk.json (what `npx cdk synth` on a fresh clone uses). */
export function sampleConfig(): Json {
  const cdkJson = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'cdk.json'), 'utf8'));
  return structuredClone(cdkJson.context.pgquorum);
}

const tempOutdirs: string[] = [];
afterAll(() => {
  for (const d of tempOutdirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/**
 * An App, bundling skipped, whose assembly goes to a folder removed after the test file: without an outdir CDK leaves
 * a `cdk.outXXXX` folder in the system's temporary directory at every synth.
 */
export function testApp(context: Record<string, unknown> = {}): App {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgq-app-test-'));
  tempOutdirs.push(outdir);
  return new App({ outdir, context: { ...context, 'aws:cdk:bundling-stacks': [] } });
}

/** What {@link useSynthesizedApp} hands the test file: the stack, its template, and whether synth (cdk-nag) threw. */
export interface SynthesizedApp<S extends Stack> {
  readonly stack: S;
  readonly template: Template;
  readonly t: Json;
  /** The cloud assembly folder (cdk-nag's validation-report.json lands in it); removed after the file. */
  readonly outdir: string;
  /** What app.synth() threw: cdk-nag v3 runs as a policy-validation plugin, an unacknowledged finding throws. */
  readonly synthError: unknown;
}

/**
 * One synth for the whole test file, in its `beforeAll`, bundling skipped (the template is the same either way;
 * synth-artifacts.test.ts bundles for real); `afterAll` removes the assembly. `ready` receives the result.
 * `outdir` (a folder the file made, e.g. to hold a CA file) is used instead of a fresh temporary one.
 */
export function useSynthesizedApp<S extends Stack>(
  opts: {
    readonly build: (app: App) => S;
    /** The app's context besides the bundling switch (e.g. `{ pgquorum: config }`). @default {} */
    readonly context?: Record<string, unknown>;
    readonly outdir?: string;
  },
  ready: (x: SynthesizedApp<S>) => void,
): void {
  let outdir: string | undefined;
  beforeAll(() => {
    outdir = opts.outdir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'pgq-synth-test-'));
    const app = new App({ outdir, context: { ...opts.context, 'aws:cdk:bundling-stacks': [] } });
    const stack = opts.build(app);
    let synthError: unknown;
    try {
      app.synth();
    } catch (err) {
      synthError = err;
    }
    const template = Template.fromStack(stack);
    ready({ stack, template, t: template.toJSON(), outdir, synthError });
  });
  afterAll(() => {
    if (outdir) fs.rmSync(outdir, { recursive: true, force: true });
  });
}
