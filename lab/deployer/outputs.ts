import fs from 'node:fs';
import { SDK_ENVIRONMENT_OUTPUT, type StackOutputKey } from '../../cli/stack-outputs';
import { DEFAULT_SETTINGS } from '../../lambdas/core/settings';
import { DEPLOYMENT_FILE, OUTPUTS_FILE } from '../world/paths';
import type { LabState } from '../world/state';
import { LAB_CA_FILE } from '../world/tls';
import { LAB_CLUSTER, LAB_READER_RECORD, LAB_TABLE, LAB_WRITER_RECORD } from '../world/topology';

/** The stack name the lab's outputs file files its outputs under. */
export const LAB_STACK_NAME = 'pgquorum-lab';

/** What lab/deployer/deploy.ts records about the deployed controller. */
export interface LabDeploymentRecord {
  readonly stateMachineArn?: string;
  readonly functionNames?: Readonly<Record<string, string>>;
  /** The synthesized stack's `Settings` output (the thresholds the deployed functions enforce). */
  readonly settings?: string;
}

function readDeployment(): LabDeploymentRecord {
  try {
    return JSON.parse(fs.readFileSync(DEPLOYMENT_FILE, 'utf8')) as LabDeploymentRecord;
  } catch {
    return {};
  }
}

/**
 * The lab's stack outputs: the same keys a deployed stack declares (cli/stack-outputs.ts), plus the SDK
 * environment that points an AWS client at the lab's emulator. Without a deployed controller there is no state
 * machine and no function: the CLI then reads and reports, and refuses runs with that reason.
 */
export function labOutputs(
  state: LabState,
  deployment: LabDeploymentRecord = readDeployment(),
): Record<string, string> {
  const fns = deployment.functionNames ?? {};
  const out: Partial<Record<StackOutputKey | typeof SDK_ENVIRONMENT_OUTPUT, string>> = {
    ClusterName: LAB_CLUSTER,
    TableName: LAB_TABLE,
    HostedZoneId: state.ids.hostedZoneId,
    WriterRecord: LAB_WRITER_RECORD,
    ReaderRecord: LAB_READER_RECORD,
    DbSecretArn: state.ids.dbSecretArn,
    // The functions' mode; the CA `lab up` generated is the file the CLI verifies the nodes against.
    DbSslMode: 'verify-full',
    DbCaBundle: LAB_CA_FILE,
    // The lab's certificates carry their node's address (IP SAN): no name to verify by.
    NodeTlsNames: '{}',
    Settings: deployment.settings ?? JSON.stringify({ ...DEFAULT_SETTINGS, replicationMode: state.mode }),
    ...(deployment.stateMachineArn ? { StateMachineArn: deployment.stateMachineArn } : {}),
    ...(fns['validate-input'] ? { ValidateInputFunction: fns['validate-input'] } : {}),
    ...(fns['rejoin-old-primary'] ? { RejoinFunction: fns['rejoin-old-primary'] } : {}),
    ...(fns['settle-rejoin'] ? { SettleRejoinFunction: fns['settle-rejoin'] } : {}),
    [SDK_ENVIRONMENT_OUTPUT]: JSON.stringify(state.aws),
  };
  return out as Record<string, string>;
}

/** Writes the outputs file atomically (a CLI reading it never sees half a file). */
export function writeLabOutputs(state: LabState, deployment?: LabDeploymentRecord): void {
  const tmp = `${OUTPUTS_FILE}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify({ [LAB_STACK_NAME]: labOutputs(state, deployment) }, null, 2)}\n`);
  fs.renameSync(tmp, OUTPUTS_FILE);
}
