import { loadRuntimeConfig, type RuntimeConfig } from '../../lambdas/handlers/config';
import type { Deps } from '../../lambdas/handlers/deps';
import { followConninfo, hostTlsKeywords, rewindSourceConninfo } from '../../lambdas/handlers/follow';
import { registeredNode } from './fixtures';

const env = {
  PGQ_CLUSTER: 'c',
  PGQ_TABLE: 't',
  PGQ_ZONE_ID: 'Z1',
  PGQ_WRITER_RECORD: 'writer.x',
  PGQ_READER_RECORD: 'reader.x',
  PGQ_DB_USER: 'pgquorum',
  PGQ_DB_PASSWORD: 'secret-password',
};
const deps = (extra: Record<string, string>): Deps =>
  ({
    config: loadRuntimeConfig({ ...env, ...extra }) as RuntimeConfig,
    repl: { user: 'replicator', password: 'repl-password' },
    db: { user: 'pgquorum', password: 'secret-password' },
    rewind: { user: 'pgquorum_rewind' },
  }) as unknown as Deps;
const pg2 = registeredNode('pg2');

describe('host-side conninfo carries the TLS mode', () => {
  it('verify-full with the CA file on the host, for replication and for pg_rewind, and no password', () => {
    const d = deps({ PGQ_DB_CA_BUNDLE: 'db-ca.pem' });
    const follow = followConninfo(d, pg2, 'pg1');
    const rewind = rewindSourceConninfo(d, pg2);
    for (const c of [follow, rewind]) {
      expect(c).toMatch(/ sslmode=verify-full sslrootcert=\/etc\/pgquorum\/db-ca\.pem$/);
      expect(c).not.toMatch(/password/);
    }
    expect(follow).toMatch(/^host=10\.0\.0\.2 port=5432 user=replicator /);
    // pg_rewind reads the new primary as the rewind role (not the controller's).
    expect(rewind).toMatch(/^host=10\.0\.0\.2 port=5432 user=pgquorum_rewind /);
  });

  it('names require when no CA is configured: never libpq’s downgradable default', () => {
    expect(followConninfo(deps({}), pg2, 'pg1')).toMatch(/ sslmode=require$/);
    expect(hostTlsKeywords(deps({ PGQ_DB_SSL_MODE: 'disable' }), pg2)).toEqual(['sslmode=disable']);
  });

  it('dials the address and checks the node’s TLS server name when one is configured', () => {
    const d = deps({ PGQ_DB_CA_BUNDLE: 'x.pem', PGQ_NODE_TLS_NAMES: '{"pg2":"pg2.db.internal"}' });
    expect(hostTlsKeywords(d, pg2)).toEqual([
      'sslmode=verify-full',
      'sslrootcert=/etc/pgquorum/db-ca.pem',
      'host=pg2.db.internal',
      'hostaddr=10.0.0.2',
    ]);
    expect(hostTlsKeywords(d, registeredNode('pg3'))).toEqual([
      'sslmode=verify-full',
      'sslrootcert=/etc/pgquorum/db-ca.pem',
    ]);
  });
});
