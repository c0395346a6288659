import { buildConninfo, conninfoValue } from '../../lambdas/core/conninfo';
import { hostPassfile } from '../../lambdas/handlers/config';

describe('buildConninfo: one builder, never a password', () => {
  it.each([
    [
      'a replica following a new primary names the passfile',
      {
        host: '10.0.2.10',
        port: 5432,
        user: 'replicator',
        applicationName: 'pg3',
        passfile: '/var/lib/postgresql/15/.pgpass-pgquorum',
        connectTimeoutSec: 2,
      },
      'host=10.0.2.10 port=5432 user=replicator application_name=pg3 passfile=/var/lib/postgresql/15/.pgpass-pgquorum connect_timeout=2',
    ],
    [
      "pg_rewind's source (the host script adds its passfile itself)",
      { host: '10.0.2.10', port: 5433, user: 'pgquorum_rewind', dbname: 'postgres', connectTimeoutSec: 5 },
      'host=10.0.2.10 port=5433 user=pgquorum_rewind dbname=postgres connect_timeout=5',
    ],
    [
      'a value with a space or a quote is quoted the way libpq reads it',
      { host: 'h', port: 1, user: "o'brien x" },
      "host=h port=1 user='o\\'brien x'",
    ],
  ])('%s', (_why, fields, expected) => {
    expect(buildConninfo(fields)).toBe(expected);
    expect(buildConninfo(fields)).not.toMatch(/password/);
  });

  it.each([
    ['plain', 'plain'],
    ['', "''"],
    ['a b', "'a b'"],
    ['c:\\x', "'c:\\\\x'"],
  ])('quotes %j only when libpq needs it', (v, q) => {
    expect(conninfoValue(v)).toBe(q);
  });
});

describe('hostPassfile: where the host scripts write the passfile', () => {
  it.each([
    [{ PGQ_PGDATA: '/var/lib/postgresql/15/main' }, '/var/lib/postgresql/15/.pgpass-pgquorum'],
    [{ PGQ_PGDATA: '/data/pg/' }, '/data/.pgpass-pgquorum'],
    [{ PGQ_PGDATA: '/main' }, '/.pgpass-pgquorum'],
    [{ PGQ_PGDATA: '/x/main', PGQ_PASSFILE: '../.pgpass-pgquorum' }, '../.pgpass-pgquorum'],
  ])('%j -> %s (common.sh: $(dirname "$PGDATA")/.pgpass-pgquorum)', (c, expected) => {
    expect(hostPassfile(c)).toBe(expected);
  });
});
