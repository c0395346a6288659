import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { ssmDocumentName, ssmDocumentPrefix } from '../../lambdas/core/contract';
import { HOST_SCRIPTS } from '../../lambdas/ports/host-command-port';
import { hostScript } from './cluster-assets';

/** Parameters the host scripts take (exported as environment variables by the SSM documents). */
export const SCRIPT_PARAMS = [
  'SOURCE_CONNINFO',
  'PRIMARY_CONNINFO',
  'SLOT_NAME',
  'DIVERGE_LSN',
  'OLD_TIMELINE',
  'SOURCE_HOST',
  'SOURCE_PORT',
  'REPL_USER',
  'REWIND_USER',
  // The secret's id, never a password: parameters are visible in SSM command history, so the script reads the
  // passwords on the host with the instance role (see the host policy) into a passfile.
  'SECRET_ID',
];

/** Properties of {@link HostCommandDocuments}. */
export interface HostCommandDocumentsProps {
  readonly cluster: string;
  /** Data directory on the nodes; already checked against SAFE_PATH (it is interpolated into shell code). */
  readonly pgdata: string;
  /** libpq sslmode of the scripts' connections (replication, pg_rewind, pg_basebackup). */
  readonly sslMode: string;
  /** Where the CA bundle lives on each node; already checked against SAFE_PATH. */
  readonly hostCaFile: string;
  /** The CA's SSM parameter or secret ARN the scripts write hostCaFile from when it is missing. @default none */
  readonly caSource?: string;
}

/** Host commands: one SSM document per script, the script text inlined (common.sh first). */
export class HostCommandDocuments extends Construct {
  /** The documents, by script. */
  readonly documents: Partial<Record<string, ssm.CfnDocument>> = {};

  constructor(scope: Construct, id: string, props: HostCommandDocumentsProps) {
    super(scope, id);
    const common = hostScript('common');
    for (const script of HOST_SCRIPTS) {
      const body = hostScript(script).replace(/^\. .*common\.sh.*$/m, common);
      this.documents[script] = new ssm.CfnDocument(
        this,
        `Doc${script.replace(/(^|-)(\w)/g, (_m, _d, ch: string) => ch.toUpperCase())}`,
        {
          name: ssmDocumentName(ssmDocumentPrefix(props.cluster), script),
          documentType: 'Command',
          updateMethod: 'NewVersion',
          content: {
            schemaVersion: '2.2',
            description: `pgquorum host script ${script}`,
            parameters: Object.fromEntries(
              SCRIPT_PARAMS.map((p) => [p, { type: 'String', default: '', allowedPattern: "^[^'\\n]*$" }]),
            ),
            mainSteps: [
              {
                action: 'aws:runShellScript',
                name: 'run',
                inputs: {
                  runCommand: [
                    `export PGDATA='${props.pgdata}'`,
                    // Deploy-time constants (SAFE_PATH and an enum, validated): the same for every command.
                    `export PGQ_DB_SSLMODE='${props.sslMode}' PGQ_DB_CA_FILE='${props.hostCaFile}'`,
                    ...(props.caSource ? [`export PGQ_DB_CA_SOURCE='${props.caSource}'`] : []),
                    ...SCRIPT_PARAMS.map((p) => `export ${p}='{{ ${p} }}'`),
                    body,
                  ],
                  timeoutSeconds: '900',
                },
              },
            ],
          },
        },
      );
    }
  }
}
