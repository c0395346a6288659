import {
  caBundleKind,
  effectiveSslMode,
  libpqReportedHost,
  libpqTlsKeywords,
  tlsCheck,
  tlsConfigProblems,
} from '../../lambdas/core/tls';

describe('TLS mode and CA bundle', () => {
  it.each([
    [undefined, false, 'require'],
    [undefined, true, 'verify-full'],
    ['verify-ca', true, 'verify-ca'],
    ['disable', false, 'disable'],
  ] as const)('mode %s with a CA %s is %s', (mode, hasCa, want) => {
    expect(effectiveSslMode(mode, hasCa)).toBe(want);
  });

  it.each([
    ['verify-full', undefined, 'caBundle', /verify-full checks the server's certificate against a CA/],
    ['verify-ca', undefined, 'caBundle', /verify-ca checks/],
    ['disable', 'ca.pem', 'sslMode', /the CA bundle given would never be used/],
  ] as const)('%s with CA %s is refused on %s', (mode, ca, field, msg) => {
    const [p, ...rest] = tlsConfigProblems(mode, ca);
    expect(rest).toEqual([]);
    expect(p!.field).toBe(field);
    expect(p!.message).toMatch(msg);
  });

  it.each([
    [undefined, undefined],
    [undefined, 'ca.pem'],
    ['require', undefined],
    ['require', 'ca.pem'],
    ['verify-ca', 'ca.pem'],
    ['disable', undefined],
  ] as const)('%s with CA %s is valid', (mode, ca) => {
    expect(tlsConfigProblems(mode, ca)).toEqual([]);
  });

  it.each([
    ['arn:aws:secretsmanager:us-east-1:123456789012:secret:db-ca-AbCdEf', 'secret'],
    ['arn:aws:ssm:us-east-1:123456789012:parameter/pgquorum/db-ca', 'parameter'],
    ['certs/db-ca.pem', 'file'],
    ['/etc/ssl/db-ca.pem', 'file'],
  ] as const)('%s is a %s', (ref, kind) => {
    expect(caBundleKind(ref)).toBe(kind);
  });
});

describe('what each mode checks', () => {
  it.each([
    ['disable', { encrypt: false, verifyChain: false, verifyIdentity: false }],
    ['require', { encrypt: true, verifyChain: false, verifyIdentity: false }],
    ['verify-ca', { encrypt: true, verifyChain: true, verifyIdentity: false }],
    ['verify-full', { encrypt: true, verifyChain: true, verifyIdentity: true }],
  ] as const)('%s', (mode, want) => {
    expect(tlsCheck(mode)).toEqual(want);
  });

  it('checks a configured server name only under verify-full', () => {
    expect(tlsCheck('verify-full', 'pg1.db.internal').servername).toBe('pg1.db.internal');
    expect(tlsCheck('verify-ca', 'pg1.db.internal').servername).toBeUndefined();
  });
});

describe('libpq keywords of host-side connections', () => {
  it.each([
    ['disable', ['sslmode=disable']],
    ['require', ['sslmode=require']],
    ['verify-ca', ['sslmode=verify-ca', 'sslrootcert=/etc/pgquorum/db-ca.pem']],
    ['verify-full', ['sslmode=verify-full', 'sslrootcert=/etc/pgquorum/db-ca.pem']],
  ] as const)('%s always names the mode (never libpq’s downgradable prefer)', (mode, want) => {
    expect(libpqTlsKeywords(mode, '/etc/pgquorum/db-ca.pem', { address: '10.0.1.10' })).toEqual(want);
  });

  it('dials the address and checks the server name when one is configured', () => {
    expect(libpqTlsKeywords('verify-full', '/ca.pem', { address: '10.0.1.10', serverName: 'pg1.db.internal' })).toEqual(
      ['sslmode=verify-full', 'sslrootcert=/ca.pem', 'host=pg1.db.internal', 'hostaddr=10.0.1.10'],
    );
  });
});

describe('the upstream host a replica reports', () => {
  it.each([
    ['verify-full', 'pg1.db.internal', 'pg1.db.internal'],
    ['verify-full', undefined, '10.0.1.10'],
    ['verify-ca', 'pg1.db.internal', '10.0.1.10'],
    ['require', 'pg1.db.internal', '10.0.1.10'],
  ] as const)('%s with server name %s: %s', (mode, name, want) => {
    expect(libpqReportedHost(mode, '10.0.1.10', name)).toBe(want);
  });
});
