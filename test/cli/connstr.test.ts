import path from 'node:path';
import { connstrCommand } from '../../cli/commands/connstr';
import { type ConnstrNode, connectionString, connstrTls } from '../../cli/connstr';
import type { CliContext, Target } from '../../cli/context';
import type { Output } from '../../cli/output';
import { DEFAULT_SETTINGS } from '../../lambdas/core/settings';

const nodes: ConnstrNode[] = [
  { name: 'pg1', host: '10.0.1.10', port: 5432, role: 'replica' },
  { name: 'pg2', host: '10.0.2.10', port: 5432, role: 'primary' },
  { name: 'pg3', host: '10.0.3.10', port: 5433, role: 'replica' },
];

describe('connstr', () => {
  it.each<[string, Parameters<typeof connectionString>[1], string]>([
    [
      'writer, libpq: the primary first, read-write, a per-host connect timeout',
      {},
      'host=10.0.2.10,10.0.1.10,10.0.3.10 port=5432,5432,5433 dbname=postgres connect_timeout=2 target_session_attrs=read-write',
    ],
    [
      'reader, libpq: replicas first, prefer-standby, random load balancing',
      { reader: true, user: 'app', dbname: 'orders' },
      'host=10.0.1.10,10.0.3.10,10.0.2.10 port=5432,5433,5432 dbname=orders user=app connect_timeout=2 target_session_attrs=prefer-standby load_balance_hosts=random',
    ],
    [
      'writer, URI',
      { format: 'uri', user: 'app', connectTimeoutSec: 3 },
      'postgresql://app@10.0.2.10:5432,10.0.1.10:5432,10.0.3.10:5433/postgres?connect_timeout=3&target_session_attrs=read-write',
    ],
    [
      'reader, URI',
      { format: 'uri', reader: true },
      'postgresql://10.0.1.10:5432,10.0.3.10:5433,10.0.2.10:5432/postgres?connect_timeout=2&target_session_attrs=prefer-standby&load_balance_hosts=random',
    ],
    [
      'writer, JDBC: targetServerType=primary',
      { format: 'jdbc' },
      'jdbc:postgresql://10.0.2.10:5432,10.0.1.10:5432,10.0.3.10:5433/postgres?targetServerType=primary&connectTimeout=2',
    ],
    [
      'reader, JDBC: preferSecondary, loadBalanceHosts',
      { format: 'jdbc', reader: true, user: 'app' },
      'jdbc:postgresql://10.0.1.10:5432,10.0.3.10:5433,10.0.2.10:5432/postgres?targetServerType=preferSecondary&loadBalanceHosts=true&connectTimeout=2&user=app',
    ],
  ])('%s', (_name, opts, want) => {
    expect(connectionString(nodes, opts).connstr).toBe(want);
  });

  it.each<[string, Parameters<typeof connectionString>[1], string]>([
    [
      'libpq under verify-full: host= the certificate names, hostaddr= the addresses, in the same order',
      { sslMode: 'verify-full', sslRootCert: '/ca.pem' },
      'host=db2.internal,10.0.1.10,10.0.3.10 hostaddr=10.0.2.10,10.0.1.10,10.0.3.10 port=5432,5432,5433 dbname=postgres connect_timeout=2 target_session_attrs=read-write sslmode=verify-full sslrootcert=/ca.pem',
    ],
    [
      'URI under verify-full: the names in the authority, hostaddr as a parameter',
      { format: 'uri', sslMode: 'verify-full' },
      'postgresql://db2.internal:5432,10.0.1.10:5432,10.0.3.10:5433/postgres?hostaddr=10.0.2.10%2C10.0.1.10%2C10.0.3.10&connect_timeout=2&target_session_attrs=read-write&sslmode=verify-full',
    ],
    [
      'under require no name is verified: the addresses only',
      { sslMode: 'require' },
      'host=10.0.2.10,10.0.1.10,10.0.3.10 port=5432,5432,5433 dbname=postgres connect_timeout=2 target_session_attrs=read-write sslmode=require',
    ],
  ])('a node with a tlsServerName, %s', (_name, opts, want) => {
    const named = nodes.map((n) => (n.name === 'pg2' ? { ...n, tlsName: 'db2.internal' } : n));
    expect(connectionString(named, opts).connstr).toBe(want);
  });

  it('quotes libpq values that need it, and lists the hosts it uses in order', () => {
    const r = connectionString(nodes, { dbname: "my db's" });
    expect(r.connstr).toContain("dbname='my db\\'s'");
    expect(r).toMatchObject({ kind: 'writer', format: 'libpq' });
    expect(r.hosts.map((h) => h.name)).toEqual(['pg2', 'pg1', 'pg3']);
  });

  const ca = '/etc/pgquorum/db-ca.pem';
  it.each<[string, Parameters<typeof connectionString>[1], string]>([
    [
      'libpq, verify-full: sslmode and sslrootcert, so a copied string verifies as the controller does',
      { sslMode: 'verify-full', sslRootCert: ca },
      'host=10.0.2.10,10.0.1.10,10.0.3.10 port=5432,5432,5433 dbname=postgres connect_timeout=2 target_session_attrs=read-write sslmode=verify-full sslrootcert=/etc/pgquorum/db-ca.pem',
    ],
    [
      'libpq reader, verify-ca',
      { reader: true, sslMode: 'verify-ca', sslRootCert: '/tmp/my ca.pem' },
      "host=10.0.1.10,10.0.3.10,10.0.2.10 port=5432,5433,5432 dbname=postgres connect_timeout=2 target_session_attrs=prefer-standby load_balance_hosts=random sslmode=verify-ca sslrootcert='/tmp/my ca.pem'",
    ],
    [
      'libpq, require: no sslrootcert (libpq would turn require with a root certificate into verify-ca)',
      { sslMode: 'require', sslRootCert: ca },
      'host=10.0.2.10,10.0.1.10,10.0.3.10 port=5432,5432,5433 dbname=postgres connect_timeout=2 target_session_attrs=read-write sslmode=require',
    ],
    [
      'libpq, verify-full without a CA path: the mode alone (libpq then needs ~/.postgresql/root.crt)',
      { sslMode: 'verify-full' },
      'host=10.0.2.10,10.0.1.10,10.0.3.10 port=5432,5432,5433 dbname=postgres connect_timeout=2 target_session_attrs=read-write sslmode=verify-full',
    ],
    [
      'URI, verify-full: percent-encoded sslrootcert',
      { format: 'uri', sslMode: 'verify-full', sslRootCert: ca },
      'postgresql://10.0.2.10:5432,10.0.1.10:5432,10.0.3.10:5433/postgres?connect_timeout=2&target_session_attrs=read-write&sslmode=verify-full&sslrootcert=%2Fetc%2Fpgquorum%2Fdb-ca.pem',
    ],
    [
      'URI, disable',
      { format: 'uri', sslMode: 'disable' },
      'postgresql://10.0.2.10:5432,10.0.1.10:5432,10.0.3.10:5433/postgres?connect_timeout=2&target_session_attrs=read-write&sslmode=disable',
    ],
    [
      'JDBC, verify-full: ssl=true (pgjdbc defaults to prefer), sslmode, sslrootcert',
      { format: 'jdbc', sslMode: 'verify-full', sslRootCert: ca },
      'jdbc:postgresql://10.0.2.10:5432,10.0.1.10:5432,10.0.3.10:5433/postgres?targetServerType=primary&connectTimeout=2&ssl=true&sslmode=verify-full&sslrootcert=%2Fetc%2Fpgquorum%2Fdb-ca.pem',
    ],
    [
      'JDBC reader, require',
      { format: 'jdbc', reader: true, sslMode: 'require' },
      'jdbc:postgresql://10.0.1.10:5432,10.0.3.10:5433,10.0.2.10:5432/postgres?targetServerType=preferSecondary&loadBalanceHosts=true&connectTimeout=2&ssl=true&sslmode=require',
    ],
    [
      'JDBC, disable: no ssl=true',
      { format: 'jdbc', sslMode: 'disable' },
      'jdbc:postgresql://10.0.2.10:5432,10.0.1.10:5432,10.0.3.10:5433/postgres?targetServerType=primary&connectTimeout=2&sslmode=disable',
    ],
  ])('TLS: %s', (_name, opts, want) => {
    expect(connectionString(nodes, opts).connstr).toBe(want);
  });
});

describe("connstrTls: the deployment's mode, and the CA file when this machine has one", () => {
  const param = 'arn:aws:ssm:eu-west-1:111122223333:parameter/pgquorum/orders/db-ca-bundle';
  const secret = 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:orders-ca-AbCdEf';
  it.each<[string, Parameters<typeof connstrTls>[0], ReturnType<typeof connstrTls>]>([
    [
      'a CA file (the lab): its absolute path',
      { mode: 'verify-full', caRef: 'ca.pem' },
      { sslMode: 'verify-full', sslRootCert: path.resolve('ca.pem') },
    ],
    [
      "--sslrootcert wins over the stack's CA",
      { mode: 'verify-ca', caRef: param, sslRootCert: '/x/ca.pem' },
      { sslMode: 'verify-ca', sslRootCert: '/x/ca.pem' },
    ],
    [
      'a parameter ARN: no file to name, so a warning with the command that fetches it',
      { mode: 'verify-full', caRef: param },
      {
        sslMode: 'verify-full',
        caSource: param,
        warning: `sslmode=verify-full: save the nodes' CA to a file (aws ssm get-parameter --name ${param} --query Parameter.Value --output text > ca.pem) and pass --sslrootcert ca.pem, or libpq reads ~/.postgresql/root.crt`,
      },
    ],
    [
      'a secret ARN',
      { mode: 'verify-full', caRef: secret },
      {
        sslMode: 'verify-full',
        caSource: secret,
        warning: `sslmode=verify-full: save the nodes' CA to a file (aws secretsmanager get-secret-value --secret-id ${secret} --query SecretString --output text > ca.pem) and pass --sslrootcert ca.pem, or libpq reads ~/.postgresql/root.crt`,
      },
    ],
    [
      'a verify mode and no CA known',
      { mode: 'verify-ca' },
      {
        sslMode: 'verify-ca',
        warning:
          "sslmode=verify-ca and no CA is known here: pass --sslrootcert FILE (the nodes' CA), or libpq reads ~/.postgresql/root.crt",
      },
    ],
    ['require: the mode only', { mode: 'require', caRef: undefined }, { sslMode: 'require' }],
    [
      'require with --sslrootcert: ignored, and said so',
      { mode: 'require', sslRootCert: '/x/ca.pem' },
      {
        sslMode: 'require',
        warning: "--sslrootcert ignored: the deployment's sslmode is require, which checks no certificate",
      },
    ],
  ])('%s', (_name, input, want) => {
    expect(connstrTls(input)).toEqual(want);
  });
});

describe('connstr command', () => {
  const target: Target = {
    kind: 'aws',
    cluster: 'orders',
    table: 't',
    functions: {},
    settings: DEFAULT_SETTINGS,
    discovery: [],
    dbSslMode: 'verify-full',
    dbCaBundle: 'arn:aws:ssm:eu-west-1:111122223333:parameter/pgquorum/orders/db-ca-bundle',
  };
  const ctx = {
    target,
    store: {
      listNodes: async () => nodes.map((n) => ({ ...n, role: 'replica' })),
      getLease: async () => ({ primary: 'pg2' }),
    },
  } as unknown as CliContext;
  const run = async (o: Parameters<typeof connstrCommand>[1], env: NodeJS.ProcessEnv = {}, c: CliContext = ctx) => {
    const lines = { result: [] as string[], warn: [] as string[] };
    const out: Output = {
      json: false,
      note: () => undefined,
      warn: (l) => lines.warn.push(l),
      result: (_v, t) => lines.result.push(t ?? ''),
    };
    const r = await connstrCommand(c, o, out, env);
    return { r, ...lines };
  };

  it("prints the stack's mode and, with a CA held in a parameter, warns on stderr rather than in the string", async () => {
    const { r, result, warn } = await run({ format: 'jdbc' });
    expect(result).toEqual([
      'jdbc:postgresql://10.0.2.10:5432,10.0.1.10:5432,10.0.3.10:5433/postgres?targetServerType=primary&connectTimeout=2&ssl=true&sslmode=verify-full',
    ]);
    expect(warn).toEqual([
      expect.stringMatching(/^warning: sslmode=verify-full: save the nodes' CA .*--sslrootcert ca\.pem/),
    ]);
    expect(r.tls).toMatchObject({ sslMode: 'verify-full', caSource: target.dbCaBundle });
  });

  it("names the CA file given, and PGQ_DB_SSL_MODE overrides the stack as it does for the CLI's own connections", async () => {
    expect((await run({ sslrootcert: '/home/me/ca.pem' })).result[0]).toMatch(
      / sslmode=verify-full sslrootcert=\/home\/me\/ca\.pem$/,
    );
    const plain = await run({}, { PGQ_DB_SSL_MODE: 'require' });
    expect(plain.result[0]).toMatch(/ sslmode=require$/);
    expect(plain.warn).toEqual([]);
  });

  it('verifies a named node by its name (the stack output NodeTlsNames); JDBC, which cannot, says so', async () => {
    const named = { ...ctx, target: { ...target, nodeTlsNames: { pg2: 'db2.internal' } } } as unknown as CliContext;
    const libpq = await run({ sslrootcert: '/ca.pem' }, {}, named);
    expect(libpq.result[0]).toMatch(
      /^host=db2\.internal,10\.0\.1\.10,10\.0\.3\.10 hostaddr=10\.0\.2\.10,10\.0\.1\.10,10\.0\.3\.10 /,
    );
    expect(libpq.warn).toEqual([]);
    const jdbc = await run({ format: 'jdbc', sslrootcert: '/ca.pem' }, {}, named);
    expect(jdbc.result[0]).toMatch(/^jdbc:postgresql:\/\/10\.0\.2\.10:5432,/);
    expect(jdbc.warn).toEqual([
      expect.stringMatching(/^warning: pg2 carries a certificate name \(tlsServerName\) and pgjdbc/),
    ]);
  });
});
