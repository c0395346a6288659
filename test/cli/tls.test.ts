import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cliSsl, parseNodeTlsNames, type Target } from '../../cli/context';
import { UsageError } from '../../cli/errors';
import { DEFAULT_SETTINGS } from '../../lambdas/core/settings';

const target = (over: Partial<Target> = {}): Target => ({
  kind: 'aws',
  cluster: 'orders',
  table: 't',
  functions: {},
  settings: DEFAULT_SETTINGS,
  discovery: [],
  ...over,
});
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgq-cli-tls-'));
const pem = path.join(dir, 'ca.pem');
const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
fs.writeFileSync(pem, PEM);
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('the CLI connects to the nodes as the functions do', () => {
  it('verifies against the stack’s CA under verify-full (never rejectUnauthorized: false)', async () => {
    expect(await cliSsl(target({ dbSslMode: 'verify-full', dbCaBundle: pem }), {})).toEqual({
      rejectUnauthorized: true,
      ca: PEM,
      verifyIdentity: true,
      serverNames: {},
    });
  });

  it('defaults to verify-full when only a CA is known, and the operator’s own CA file wins', async () => {
    expect(await cliSsl(target(), { PGQ_DB_CA_BUNDLE: pem })).toMatchObject({ rejectUnauthorized: true, ca: PEM });
  });

  it('refuses a verify mode it has no CA for instead of connecting unverified', async () => {
    await expect(cliSsl(target({ dbSslMode: 'verify-ca' }), {})).rejects.toThrow(UsageError);
    await expect(cliSsl(target({ dbSslMode: 'verify-ca' }), {})).rejects.toThrow(
      /no CA is known: set PGQ_DB_CA_BUNDLE/,
    );
  });

  it('keeps require and disable as the stack says, and names a bad PGQ_DB_SSL_MODE', async () => {
    expect(await cliSsl(target({ dbSslMode: 'require' }), {})).toMatchObject({ rejectUnauthorized: false });
    expect(await cliSsl(target({ dbSslMode: 'disable' }), {})).toBe(false);
    await expect(cliSsl(target(), { PGQ_DB_SSL_MODE: 'prefer' })).rejects.toThrow(/PGQ_DB_SSL_MODE: prefer/);
  });
});

describe('a node verified by its certificate name (tlsServerName)', () => {
  it('verify-full checks the stack’s NodeTlsNames, as the functions check PGQ_NODE_TLS_NAMES', async () => {
    expect(
      await cliSsl(target({ dbSslMode: 'verify-full', dbCaBundle: pem, nodeTlsNames: { pg1: 'db1.internal' } }), {}),
    ).toMatchObject({ verifyIdentity: true, serverNames: { pg1: 'db1.internal' } });
  });

  it.each([
    ['a JSON object', '{"pg1":"db1.internal"}', { pg1: 'db1.internal' }, []],
    ['none', 'none', undefined, []],
    ['an empty object (the lab, a stack without names)', '{}', undefined, []],
    [
      'a list',
      '["db1"]',
      undefined,
      ['src is not a JSON object of node name to certificate name: verifying the nodes by address'],
    ],
    [
      'not JSON',
      'db1.internal',
      undefined,
      ['src is not a JSON object of node name to certificate name: verifying the nodes by address'],
    ],
    [
      'an empty name',
      '{"pg1":""}',
      undefined,
      ['src is not a JSON object of node name to certificate name: verifying the nodes by address'],
    ],
  ])('parses %s', (_n, raw, want, said) => {
    const discovery: string[] = [];
    expect(parseNodeTlsNames(raw, 'src', discovery)).toEqual(want);
    expect(discovery).toEqual(said);
  });
});
