import { type ConnstrNode, connectionString } from '../../cli/connstr';

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

  it('quotes libpq values that need it, and lists the hosts it uses in order', () => {
    const r = connectionString(nodes, { dbname: "my db's" });
    expect(r.connstr).toContain("dbname='my db\\'s'");
    expect(r).toMatchObject({ kind: 'writer', format: 'libpq' });
    expect(r.hosts.map((h) => h.name)).toEqual(['pg2', 'pg1', 'pg3']);
  });
});
