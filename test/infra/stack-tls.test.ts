import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildApp } from '../../infra/app';
import { BUNDLED_CA_FILE } from '../../infra/stacks/pgquorum-stack';
import { type Json, sampleConfig, useSynthesizedApp } from './fixtures';

// A deployment that gives a CA file: TLS is verify-full by default everywhere (bundling skipped, as in stack.test.ts).
const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgq-stack-tls-'));
const caFile = path.join(outdir, 'db-ca.pem');
fs.writeFileSync(caFile, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
let t: Json;
let synthError: unknown;

const config = sampleConfig();
config.dbCaBundle = caFile;
config.nodes[1].tlsServerName = 'pg2.orders.db.internal';
useSynthesizedApp({ build: (app) => buildApp(app).stack, context: { pgquorum: config }, outdir }, (x) => {
  ({ t, synthError } = x);
});

const resourcesOf = (type: string): [string, Json][] =>
  Object.entries(t.Resources as Record<string, Json>).filter(([, r]) => r.Type === type);

describe('TLS settings in the stack', () => {
  it('passes cdk-nag with the CA parameter', () => {
    expect(synthError).toBeUndefined();
  });

  it('gives every function verify-full, the bundled CA, the host CA path and the per-node server names', () => {
    const fns = resourcesOf('AWS::Lambda::Function').filter(
      ([, r]) => r.Properties.Environment?.Variables?.PGQ_CLUSTER,
    );
    expect(fns.length).toBeGreaterThan(10);
    for (const [id, f] of fns) {
      const v = f.Properties.Environment.Variables;
      expect({ id, mode: v.PGQ_DB_SSL_MODE, ca: v.PGQ_DB_CA_BUNDLE, host: v.PGQ_HOST_CA_FILE }).toEqual({
        id,
        mode: 'verify-full',
        ca: BUNDLED_CA_FILE,
        host: '/etc/pgquorum/db-ca.pem',
      });
      expect(JSON.parse(v.PGQ_NODE_TLS_NAMES)).toEqual({ pg2: 'pg2.orders.db.internal' });
      expect(v.PGQ_DB_SSL).toBeUndefined();
    }
    expect(t.Outputs.DbSslMode.Value).toBe('verify-full');
    // The CLI verifies those nodes by the same names (cli/context.ts parseNodeTlsNames).
    expect(JSON.parse(t.Outputs.NodeTlsNames.Value)).toEqual({ pg2: 'pg2.orders.db.internal' });
  });

  it('publishes the CA to the hosts as an SSM parameter their policy may read, and each document names it', () => {
    const [[paramId, param]] = resourcesOf('AWS::SSM::Parameter') as [[string, Json]];
    expect(param.Properties.Value).toBe(fs.readFileSync(caFile, 'utf8'));
    const [[, policy]] = resourcesOf('AWS::IAM::ManagedPolicy') as [[string, Json]];
    const statements = policy.Properties.PolicyDocument.Statement as Json[];
    expect(
      statements.some((s) => JSON.stringify(s).includes('ssm:GetParameter') && JSON.stringify(s).includes(paramId)),
    ).toBe(true);
    expect(JSON.stringify(t.Outputs.DbCaBundle.Value)).toContain(paramId);
    for (const [, doc] of resourcesOf('AWS::SSM::Document')) {
      const run = JSON.stringify(doc.Properties.Content.mainSteps[0].inputs.runCommand);
      expect(run).toContain("export PGQ_DB_SSLMODE='verify-full' PGQ_DB_CA_FILE='/etc/pgquorum/db-ca.pem'");
      expect(run).toContain('PGQ_DB_CA_SOURCE');
    }
  });
});
