import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { parseDeployConfig } from './config';
import { PgQuorumStack } from './stacks/pgquorum-stack';

/** Builds the app from the `pgquorum` context (cdk.json or --context); cdk-nag AwsSolutions runs on every synth. */
export function buildApp(app = new App()): { app: App; stack: PgQuorumStack } {
  const config = parseDeployConfig(app.node.tryGetContext('pgquorum'));
  const stack = new PgQuorumStack(app, `PgQuorum-${config.cluster}`, {
    config,
    env: config.account ? { account: config.account, region: config.region } : { region: config.region },
    description: `pgquorum HA controller for PostgreSQL cluster ${config.cluster}`,
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return { app, stack };
}

if (require.main === module) buildApp();
