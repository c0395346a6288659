import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TASKS } from '../../infra/constructs/tasks';
import { HOST_SCRIPTS } from '../../lambdas/ports/host-command-port';

/**
 * The construct as npm ships it: scripts/build-construct.mjs (the prepack hook) builds dist/construct, dist/types
 * and the handler bundles; `npm pack --dry-run` must list them and the host scripts, and nothing of the sources.
 * Then the packed files alone, installed as node_modules/pgquorum next to the runtime dependencies, synthesize a
 * PgQuorumCluster with plain node: no TypeScript, no esbuild, no sources.
 */
const ROOT = path.resolve(__dirname, '..', '..');
const ENTRIES = [...new Set([...Object.values(TASKS).map((t) => t.entry), 'probe'])];
let files: string[];
let dir: string;

beforeAll(() => {
  execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'build-construct.mjs')], { cwd: ROOT, stdio: 'pipe' });
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts', '--loglevel=error'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  files = (JSON.parse(out) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgq-construct-pkg-'));
}, 300_000);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('the packed construct', () => {
  it('lists the construct entry, its declarations, every handler bundle and every host script', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    expect(pkg.exports['./construct'].default).toBe('./dist/construct/index.js');
    expect(files).toContain(pkg.exports['./construct'].default.slice(2));
    expect(files).toContain(pkg.exports['./construct'].types.slice(2));
    expect(files).toContain(pkg.main);
    for (const e of ENTRIES) expect(files).toContain(`dist/assets/handlers/${e}/index.js`);
    for (const s of fs.readdirSync(path.join(ROOT, 'infra', 'host-scripts')))
      expect(files).toContain(`infra/host-scripts/${s}`);
  });

  it('ships no sources: no TypeScript outside declarations, nothing of lambdas/, lab/ or cli/', () => {
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    expect(files.filter((f) => /^(lambdas|lab|cli)\//.test(f))).toEqual([]);
  });

  it('synthesizes a cluster from the packed files alone, with the prebuilt handler bundles', () => {
    const pkgDir = path.join(dir, 'node_modules', 'pgquorum');
    for (const f of files) {
      fs.mkdirSync(path.dirname(path.join(pkgDir, f)), { recursive: true });
      fs.copyFileSync(path.join(ROOT, f), path.join(pkgDir, f));
    }
    for (const dep of ['aws-cdk-lib', 'constructs', 'zod'])
      fs.symlinkSync(fs.realpathSync(path.join(ROOT, 'node_modules', dep)), path.join(dir, 'node_modules', dep));
    const script = `
      const { App, Stack } = require('aws-cdk-lib');
      const ec2 = require('aws-cdk-lib/aws-ec2');
      const route53 = require('aws-cdk-lib/aws-route53');
      const { PgQuorumCluster } = require('pgquorum/construct');
      const app = new App({ outdir: 'cdk.out' });
      const stack = new Stack(app, 'Mine', { env: { account: '111111111111', region: 'eu-west-1' } });
      const vpc = new ec2.Vpc(stack, 'Vpc', { availabilityZones: ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'],
        natGateways: 0, subnetConfiguration: [{ name: 'db', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
      const subnets = vpc.isolatedSubnets;
      new PgQuorumCluster(stack, 'Quorum', {
        clusterName: 'mine', vpc, probeSubnets: subnets, initialPrimary: 'pg1',
        hostedZone: new route53.PrivateHostedZone(stack, 'Zone', { zoneName: 'mine.internal', vpc }),
        nodes: subnets.map((s, i) => ({ name: 'pg' + (i + 1), instanceId: 'i-0123456789abcdef' + i, az: s.availabilityZone,
          privateIp: s.ipv4CidrBlock.replace(/0\\/\\d+$/, '10'),
          securityGroup: new ec2.SecurityGroup(stack, 'Sg' + i, { vpc }) })),
      });
      const t = app.synth().getStackByName('Mine').template;
      const fns = Object.values(t.Resources).filter((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Environment);
      console.log(JSON.stringify({ handlers: fns.map((f) => f.Properties.Handler),
        docs: Object.values(t.Resources).filter((r) => r.Type === 'AWS::SSM::Document').length,
        assets: [...new Set(fns.map((f) => 'cdk.out/asset.' + f.Properties.Code.S3Key.replace(/\\.zip$/, '')))]
          .filter((d) => fs.existsSync(d + '/index.js')).length }));
    `;
    const out = execFileSync(process.execPath, ['-e', `const fs = require('fs');${script}`], {
      cwd: dir,
      encoding: 'utf8',
      env: { PATH: process.env.PATH, HOME: dir },
    });
    const r = JSON.parse(out.trim().split('\n').pop()!);
    // Every task function and the three probes, each from its prebuilt bundle (one asset per handler).
    expect(r.handlers).toHaveLength(Object.keys(TASKS).length + 3);
    expect(new Set(r.handlers)).toEqual(new Set(['index.handler']));
    expect(r.assets).toBe(ENTRIES.length);
    expect(r.docs).toBe(HOST_SCRIPTS.length);
  });
});
