import { FatalError, ValidationError } from '../../lambdas/core/errors';
import { loadRuntimeConfig } from '../../lambdas/handlers/config';
import { withoutDatabase } from '../../lambdas/handlers/deps';
import type { PostgresNodePort } from '../../lambdas/ports/postgres-port';

const base = {
  PGQ_CLUSTER: 'c',
  PGQ_TABLE: 't',
  PGQ_ZONE_ID: 'Z1',
  PGQ_WRITER_RECORD: 'writer.x',
  PGQ_READER_RECORD: 'reader.x',
  PGQ_DB_USER: 'u',
  PGQ_DB_PASSWORD: 'p',
};

describe('runtime configuration', () => {
  it('applies defaults', () => {
    const c = loadRuntimeConfig(base);
    expect(c).toMatchObject({ PGQ_SSM_DOCUMENT_PREFIX: 'pgquorum', PGQ_RECORD_TTL: 5, PGQ_PROBE_RUN_MS: 55000 });
    expect(c.settings.failuresToDown).toBe(3);
  });

  it.each<[string, Record<string, string | undefined>, RegExp]>([
    ['missing table', { PGQ_TABLE: undefined }, /PGQ_TABLE/],
    ['settings not JSON', { PGQ_SETTINGS: '{oops' }, /PGQ_SETTINGS: is not valid JSON/],
    ['bad threshold', { PGQ_SETTINGS: '{"failuresToDown": 0}' }, /PGQ_SETTINGS\.failuresToDown/],
    ['no credentials', { PGQ_DB_USER: undefined }, /set PGQ_DB_SECRET_ARN, or PGQ_DB_USER and PGQ_DB_PASSWORD/],
    ['bad address override', { PGQ_NODE_ADDRESS_OVERRIDES: '{"pg1":"nowhere"}' }, /PGQ_NODE_ADDRESS_OVERRIDES/],
  ])('%s names the variable', (_n, patch, msg) => {
    const env = { ...base, ...patch };
    expect(() => loadRuntimeConfig(env)).toThrow(ValidationError);
    expect(() => loadRuntimeConfig(env)).toThrow(msg);
  });

  it('defaults TLS to require, and to verify-full once a CA is given', () => {
    expect(loadRuntimeConfig(base).sslMode).toBe('require');
    expect(loadRuntimeConfig({ ...base, PGQ_DB_CA_BUNDLE: 'db-ca.pem' }).sslMode).toBe('verify-full');
    expect(loadRuntimeConfig({ ...base, PGQ_DB_SSL_MODE: 'disable' }).sslMode).toBe('disable');
  });

  it.each<[string, Record<string, string>, RegExp]>([
    ['verify-full without a CA', { PGQ_DB_SSL_MODE: 'verify-full' }, /PGQ_DB_CA_BUNDLE: verify-full checks/],
    ['disable with a CA', { PGQ_DB_SSL_MODE: 'disable', PGQ_DB_CA_BUNDLE: 'x.pem' }, /PGQ_DB_SSL_MODE: disable/],
    ['an unknown mode', { PGQ_DB_SSL_MODE: 'prefer' }, /PGQ_DB_SSL_MODE/],
    ['server names not JSON', { PGQ_NODE_TLS_NAMES: 'pg1=x' }, /PGQ_NODE_TLS_NAMES: is not valid JSON/],
  ])('TLS: %s names the variable', (_n, patch, msg) => {
    expect(() => loadRuntimeConfig({ ...base, ...patch })).toThrow(msg);
  });

  it('needs no credentials for a function without database access, and still needs them otherwise', () => {
    const none = { ...base, PGQ_DB_USER: undefined, PGQ_DB_PASSWORD: undefined };
    expect(loadRuntimeConfig({ ...none, PGQ_DB_ACCESS: 'none' }).PGQ_DB_ACCESS).toBe('none');
    expect(() => loadRuntimeConfig(none)).toThrow(/set PGQ_DB_SECRET_ARN/);
    expect(() => loadRuntimeConfig({ ...base, PGQ_DB_ACCESS: 'some' })).toThrow(/PGQ_DB_ACCESS/);
  });
});

describe('a function without database access', () => {
  const calls: string[] = [];
  const real = {
    probeDeadlineMs: 1500,
    probe: async () => {
      calls.push('probe');
      return { node: 'pg1', ok: true, latencyMs: 1 };
    },
  } as unknown as PostgresNodePort;

  it('fails every call before it connects, naming the missing access, and keeps plain values', async () => {
    const pg = withoutDatabase(real);
    expect(pg.probeDeadlineMs).toBe(1500);
    const err = await pg.probe({ name: 'pg1', host: '127.0.0.1', port: 5432 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FatalError);
    expect((err as Error).message).toMatch(/probe needs a database connection.*PGQ_DB_ACCESS=none.*'postgres'/);
    expect(calls).toEqual([]);
  });
});
