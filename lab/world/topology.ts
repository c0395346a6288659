/**
 * The lab's fixed topology: names, loopback ports and credentials shared by the
 * lab, its tests, the demo and the bench. Every port can be shifted at once with
 * PGQ_LAB_PORT_BASE so two labs (or a lab and a developer's own PostgreSQL) can
 * coexist on one machine.
 */
import { RECORD_LABELS, recordName } from '../../lambdas/core/contract';

export const LAB_CLUSTER = 'lab';
export const LAB_REGION = 'us-east-1';
export const LAB_TABLE = 'pgquorum-lab';
export const LAB_VPC_CIDR = '10.42.0.0/16';
export const LAB_AZS = ['us-east-1a', 'us-east-1b', 'us-east-1c'] as const;
export const LAB_ZONE_NAME = 'lab.pgquorum.internal';
/** The stack's record names with its default labels (labDeployConfig sets no labels of its own). */
export const LAB_WRITER_RECORD = recordName(RECORD_LABELS.writer, LAB_ZONE_NAME);
export const LAB_READER_RECORD = recordName(RECORD_LABELS.reader, LAB_ZONE_NAME);
/** Low TTL, as a production writer record would have: clients re-resolve quickly after a flip. */
export const LAB_RECORD_TTL_SEC = 1;

/**
 * The lab's administrative role (a superuser): test clients, the load generator and the lab's housekeeping. The
 * controller does not use it: it runs as LAB_CONTROLLER_USER, with the grants the stack documents.
 */
export const LAB_DB_USER = 'pgquorum';
export const LAB_DB_PASSWORD = 'pgquorum-lab';
/** The role replicas stream as. */
export const LAB_REPL_USER = 'replicator';
export const LAB_REPL_PASSWORD = 'replicator-lab';
/** The controller's least-privileged role (probes, state-machine tasks, the CLI): not a superuser. */
export const LAB_CONTROLLER_USER = 'pgquorum_controller';
export const LAB_CONTROLLER_PASSWORD = 'controller-lab';
/** The role pg_rewind reads the new primary as (function grants only). */
export const LAB_REWIND_USER = 'pgquorum_rewind';
export const LAB_REWIND_PASSWORD = 'rewind-lab';
export const LAB_DB_NAME = 'postgres';

/**
 * The network paths through a node's gate. Each path has its own loopback port,
 * so the bench can cut one path (say probe AZ b to pg1) and leave the others.
 * All of them obey the node's security group, as traffic to the ENI would.
 */
export const GATE_PATHS = ['client', 'repl', 'az-a', 'az-b', 'az-c'] as const;
export type GatePath = (typeof GATE_PATHS)[number];

export interface LabNodeSpec {
  name: 'pg1' | 'pg2' | 'pg3';
  az: (typeof LAB_AZS)[number];
  /** The private IP the emulated EC2 instance gets (never connected to: loopback stands in). */
  privateIp: string;
  /** Where PostgreSQL itself listens (127.0.0.1). Only gates connect here. */
  pgPort: number;
  /** One loopback port per gate path. */
  gatePorts: Record<GatePath, number>;
}

export interface LabPorts {
  emulator: number;
  /** The lab's AWS endpoint: a proxy in front of the emulator that models the cloud profile (lab/world/aws-proxy.ts). */
  awsProxy: number;
  writer: number;
  reader: number;
  /** The lab's SSM Run Command service (lab/world/ssm-service.ts), reached through AWS_ENDPOINT_URL_SSM. */
  ssm: number;
  nodes: LabNodeSpec[];
}

/**
 * Default port base. Kept below Linux's ephemeral range (32768-60999 by
 * default): a lab port inside it can be taken at any moment as the source port
 * of some outgoing connection (seen here: an SG poll's HTTP connection sat on a
 * gate port and the next `lab up` failed). Also clear of ministack's own
 * service ports (14571+, 15432+, 15601+, 16379+, 16443+, 18080, 25432, 27117).
 */
export const LAB_DEFAULT_PORT_BASE = 21400;

/** Linux's default ephemeral port range, which lab ports should avoid (see LAB_DEFAULT_PORT_BASE). */
export const EPHEMERAL_PORT_RANGE = [32768, 60999] as const;

/** Computes every port of the lab from one base (default LAB_DEFAULT_PORT_BASE, or PGQ_LAB_PORT_BASE). */
export function labPorts(base = Number(process.env.PGQ_LAB_PORT_BASE ?? LAB_DEFAULT_PORT_BASE)): LabPorts {
  const names = ['pg1', 'pg2', 'pg3'] as const;
  const nodes = names.map((name, i): LabNodeSpec => {
    const n = i + 1;
    const gatePorts = Object.fromEntries(GATE_PATHS.map((p, j) => [p, base + 40 + j * 10 + n])) as Record<
      GatePath,
      number
    >;
    return { name, az: LAB_AZS[i]!, privateIp: `10.42.${n}.10`, pgPort: base + 30 + n, gatePorts };
  });
  return {
    emulator: Number(process.env.PGQ_EMULATOR_PORT ?? 4566),
    awsProxy: base + 2,
    writer: base + 10,
    reader: base + 11,
    ssm: base + 18,
    nodes,
  };
}
