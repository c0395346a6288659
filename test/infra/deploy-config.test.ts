import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  type DeployConfig,
  deployConfigSchema,
  deploySslMode,
  normalizedRecordName,
  parseDeployConfig,
  recordNames,
} from '../../infra/config';
import { type Json, sampleConfig } from './fixtures';

type Mutate = (c: Json) => void;

describe('deployment config', () => {
  it('accepts the sample in cdk.json and fills the defaults', () => {
    const c: DeployConfig = parseDeployConfig(sampleConfig());
    expect(c.nodes.map((n) => n.port)).toEqual([5432, 5432, 5432]);
    expect(c.thresholds.replicationMode).toBe('sync');
    expect(c.createVpcEndpoints).toBe(true);
    expect(recordNames(c)).toEqual({ writer: 'writer.orders.db.internal', reader: 'reader.orders.db.internal' });
  });

  it('accepts an existing secret by name and optional node subnets', () => {
    const raw = sampleConfig();
    raw.dbSecretName = 'pgquorum/orders/db';
    raw.nodes[0].subnetId = 'subnet-0aa1111111111111a';
    expect(deployConfigSchema.safeParse(raw).success).toBe(true);
  });

  // Each bad value must be reported under its full path, so the operator knows which line of cdk.json to fix.
  const cases: [string, Mutate, string][] = [
    [
      'bad node IP',
      (c) => {
        c.nodes[1].privateIp = '10.20.300.1';
      },
      'pgquorum.nodes[1].privateIp: Invalid IPv4',
    ],
    [
      'bad instance id',
      (c) => {
        c.nodes[2].instanceId = 'i-xyz';
      },
      'pgquorum.nodes[2].instanceId: Invalid EC2 instance id',
    ],
    [
      'bad port',
      (c) => {
        c.nodes[0].port = 70000;
      },
      'pgquorum.nodes[0].port:',
    ],
    [
      'bad node subnet',
      (c) => {
        c.nodes[0].subnetId = 'sub-1';
      },
      'pgquorum.nodes[0].subnetId: Invalid subnet id',
    ],
    [
      'missing cluster',
      (c) => {
        delete c.cluster;
      },
      'pgquorum.cluster:',
    ],
    [
      'two probe subnets',
      (c) => {
        c.probeSubnets.pop();
      },
      'pgquorum.probeSubnets: exactly three probe subnets',
    ],
    [
      'probe AZs not distinct',
      (c) => {
        c.probeSubnets[2].az = c.probeSubnets[0].az;
      },
      'pgquorum.probeSubnets: the three probe subnets must be in three distinct AZs',
    ],
    [
      'bad probe subnet id',
      (c) => {
        c.probeSubnets[1].subnetId = 'subnet-XYZ';
      },
      'pgquorum.probeSubnets[1].subnetId: Invalid subnet id',
    ],
    [
      'unknown initial primary',
      (c) => {
        c.initialPrimary = 'pg9';
      },
      'pgquorum.initialPrimary: must be one of pg1, pg2, pg3',
    ],
    [
      'shared security group',
      (c) => {
        c.nodes[1].securityGroupId = c.nodes[0].securityGroupId;
      },
      'pgquorum.nodes: each node needs its own security group',
    ],
    [
      'bad hosted zone',
      (c) => {
        c.hostedZoneId = 'zone';
      },
      'pgquorum.hostedZoneId: Invalid hosted zone id',
    ],
    [
      'bad CIDR',
      (c) => {
        c.vpcCidr = '10.20.0.0';
      },
      'pgquorum.vpcCidr: Invalid CIDR',
    ],
    [
      'bad threshold',
      (c) => {
        c.thresholds.failuresToDown = 0;
      },
      'pgquorum.thresholds.failuresToDown:',
    ],
    [
      'bad replication mode',
      (c) => {
        c.thresholds.replicationMode = 'semi';
      },
      'pgquorum.thresholds.replicationMode:',
    ],
    [
      'quorum fencing in async mode',
      (c) => {
        c.thresholds.replicationMode = 'async';
        c.thresholds.fence = { unreachableHost: 'quorum' };
      },
      'pgquorum.thresholds.fence.unreachableHost: quorum fencing needs replicationMode sync',
    ],
    [
      'a switchover replay bound WaitForReplay cannot replay',
      (c) => {
        c.thresholds.switchoverReplayTimeoutMs = 1000;
        c.thresholds.switchoverMaxReplayLagBytes = 8 * 1024 * 1024;
      },
      'pgquorum.thresholds.switchoverMaxReplayLagBytes: must be replayable within switchoverReplayTimeoutMs (1000 ms) at 4194304 bytes/s: at most 4194304',
    ],
    [
      'a WaitForReplay bound past its function timeout',
      (c) => {
        c.thresholds.switchoverReplayTimeoutMs = 60000;
      },
      'pgquorum.thresholds.switchoverReplayTimeoutMs:',
    ],
    [
      'an unknown unreachable-host policy',
      (c) => {
        c.thresholds.fence = { unreachableHost: 'reboot' };
      },
      'pgquorum.thresholds.fence.unreachableHost:',
    ],
    [
      'secret twice',
      (c) => {
        c.dbSecretArn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-AbCdEf';
        c.dbSecretName = 'x';
      },
      'pgquorum.dbSecretName: give dbSecretArn or dbSecretName, not both',
    ],
    [
      'bad alarm email',
      (c) => {
        c.alarmEmail = 'oncall';
      },
      'pgquorum.alarmEmail:',
    ],
  ];
  cases.push(
    [
      'a duplicate instance id',
      (c) => {
        c.nodes[2].instanceId = c.nodes[0].instanceId;
      },
      `pgquorum.nodes[2].instanceId: i-0a1a1a1a1a1a1a1a1 is already node`,
    ],
    [
      'a duplicate private IP',
      (c) => {
        c.nodes[1].privateIp = c.nodes[0].privateIp;
      },
      'pgquorum.nodes[1].privateIp: 10.20.1.10 is already node',
    ],
    [
      'a pgdata with a quote',
      (c) => {
        c.pgdata = "/var/lib/pg'; rm -rf /; '";
      },
      'pgquorum.pgdata: an absolute path of letters',
    ],
    [
      'a pgdata with a $',
      (c) => {
        c.pgdata = '/var/lib/$(id)';
      },
      'pgquorum.pgdata: an absolute path',
    ],
    [
      'a relative pgdata',
      (c) => {
        c.pgdata = 'data/main';
      },
      'pgquorum.pgdata: an absolute path',
    ],
    [
      'a pgdata climbing out',
      (c) => {
        c.pgdata = '/var/lib/../../etc';
      },
      'pgquorum.pgdata: an absolute path',
    ],
    [
      'a node IP outside the VPC',
      (c) => {
        c.nodes[1].privateIp = '10.21.2.10';
      },
      'pgquorum.nodes[1].privateIp: 10.21.2.10 is outside vpcCidr 10.20.0.0/16',
    ],
    [
      'a node AZ without a probe',
      (c) => {
        c.nodes[0].az = 'eu-west-1d';
      },
      'pgquorum.nodes[0].az: eu-west-1d is not one of the probe AZs',
    ],
    [
      'a vote TTL shorter than the probe interval',
      (c) => {
        c.thresholds = { ...(c.thresholds ?? {}), probeIntervalMs: 2000, voteTtlMs: 1000 };
      },
      'pgquorum.thresholds.voteTtlMs: 1000 ms is shorter than probeIntervalMs 2000',
    ],
    [
      'an allowed ingress CIDR wider than the VPC (a rejoin would open the node to it)',
      (c) => {
        c.allowedIngress = { cidrs: ['10.20.5.0/24', '0.0.0.0/0'] };
      },
      'pgquorum.allowedIngress.cidrs[1]: 0.0.0.0/0 is not inside vpcCidr 10.20.0.0/16',
    ],
    [
      'an allowed ingress CIDR outside the VPC',
      (c) => {
        c.allowedIngress = { cidrs: ['192.168.0.0/24'] };
      },
      'pgquorum.allowedIngress.cidrs[0]: 192.168.0.0/24 is not inside vpcCidr',
    ],
    [
      'a bad allowed security group',
      (c) => {
        c.allowedIngress = { securityGroupIds: ['sg-nope'] };
      },
      'pgquorum.allowedIngress.securityGroupIds[0]: Invalid security group id',
    ],
    [
      "the hosts' secret the same as the controller's (the hosts would read its password)",
      (c) => {
        c.dbSecretName = 'pgq/db';
        c.hostSecretName = 'pgq/db';
      },
      "pgquorum.hostSecretArn: must differ from the controller's secret",
    ],
    [
      'one role for replication and rewind',
      (c) => {
        c.replicationUser = 'pgq';
        c.rewindUser = 'pgq';
      },
      'pgquorum.rewindUser: must differ from replicationUser',
    ],
  );
  it.each([
    ['/var/lib/postgresql/15/main', true],
    ['/data/pg-15_main.d', true],
    ['/srv/a..b', true],
    ["/var/lib/pg'x", false],
    ['/var/lib/pg x', false],
    ['/var/lib/..', false],
    ['/var/`id`', false],
  ])('pgdata %j is accepted: %s', (pgdata, ok) => {
    const raw = sampleConfig();
    raw.pgdata = pgdata;
    expect(deployConfigSchema.safeParse(raw).success).toBe(ok);
  });
  it.each(cases)('rejects %s and names the field', (_name, mutate, expected) => {
    const raw = sampleConfig();
    mutate(raw);
    expect(() => parseDeployConfig(raw)).toThrow(expected);
  });

  describe('TLS to the nodes', () => {
    const pem = path.join(os.tmpdir(), `pgq-ca-${process.pid}.pem`);
    beforeAll(() => fs.writeFileSync(pem, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'));
    afterAll(() => fs.rmSync(pem, { force: true }));

    it('defaults to require without a CA and to verify-full with one', () => {
      expect(deploySslMode(parseDeployConfig(sampleConfig()))).toBe('require');
      const raw = sampleConfig();
      raw.dbCaBundle = pem;
      const c = parseDeployConfig(raw);
      expect(deploySslMode(c)).toBe('verify-full');
      expect(c.dbHostCaFile).toBe('/etc/pgquorum/db-ca.pem');
    });

    it.each<[string, Mutate, RegExp]>([
      ['verify-full without a CA', (c) => (c.dbSslMode = 'verify-full'), /pgquorum\.dbCaBundle: verify-full checks/],
      ['verify-ca without a CA', (c) => (c.dbSslMode = 'verify-ca'), /pgquorum\.dbCaBundle: verify-ca checks/],
      [
        'disable with a CA',
        (c) => Object.assign(c, { dbSslMode: 'disable', dbCaBundle: 'arn:aws:ssm:us-east-1:1:parameter/ca' }),
        /pgquorum\.dbSslMode: disable sends everything in clear/,
      ],
      ['an unknown mode', (c) => (c.dbSslMode = 'prefer'), /pgquorum\.dbSslMode:/],
      [
        'a CA file that does not exist',
        (c) => (c.dbCaBundle = '/nonexistent/ca.pem'),
        /pgquorum\.dbCaBundle: cannot read/,
      ],
      [
        'a CA file without a certificate',
        (c) => (c.dbCaBundle = path.join(__dirname, '..', '..', 'package.json')),
        /pgquorum\.dbCaBundle: .* holds no PEM/,
      ],
      ['a host CA path with a quote', (c) => (c.dbHostCaFile = "/etc/x'y.pem"), /pgquorum\.dbHostCaFile:/],
      [
        'a TLS server name with a space',
        (c) => (c.nodes[1].tlsServerName = 'pg 2'),
        /pgquorum\.nodes\[1\]\.tlsServerName:/,
      ],
    ])('rejects %s and names the field', (_n, mutate, msg) => {
      const raw = sampleConfig();
      mutate(raw);
      expect(() => parseDeployConfig(raw)).toThrow(msg);
    });

    it('accepts a secret ARN and per-node server names', () => {
      const raw = sampleConfig();
      raw.dbCaBundle = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:db-ca-AbCdEf';
      raw.dbSslMode = 'verify-ca';
      raw.nodes[0].tlsServerName = 'pg1.orders.db.internal';
      expect(parseDeployConfig(raw).nodes[0]!.tlsServerName).toBe('pg1.orders.db.internal');
    });
  });

  it('rejects a missing context key with a message naming it', () => {
    expect(() => parseDeployConfig(undefined)).toThrow(/invalid pgquorum configuration/);
  });

  it.each([
    ['writer.db.internal', 'writer.db.internal'],
    ['Writer.DB.Internal.', 'writer.db.internal'],
    ['*.db.internal', '\\052.db.internal'],
    ['my_rec-1.x', 'my_rec-1.x'],
    ['a b.x', 'a\\040b.x'],
  ])('normalizes %s as Route 53 condition keys compare it: %s', (name, want) => {
    expect(normalizedRecordName(name)).toBe(want);
  });
});
