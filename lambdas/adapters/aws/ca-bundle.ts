import fs from 'node:fs';
import path from 'node:path';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { ValidationError } from '../../core/errors';
import { caBundleKind } from '../../core/tls';

/**
 * The PEM text of a CA bundle: a file (absolute, or relative to `baseDir`), a Secrets Manager secret or an SSM
 * parameter, by ARN. `field` names the setting in errors. A source without a certificate is refused: a verify
 * mode with an empty CA would reject every node, and one with the wrong text could trust something unintended.
 */
export async function readCaBundle(ref: string, field: string, baseDir = process.cwd()): Promise<string> {
  let pem: string | undefined;
  const kind = caBundleKind(ref);
  if (kind === 'file') {
    const file = path.resolve(baseDir, ref);
    try {
      pem = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new ValidationError(`${field}: cannot read ${file}: ${(err as Error).message}`);
    }
  } else if (kind === 'secret') {
    pem = (await new SecretsManagerClient({}).send(new GetSecretValueCommand({ SecretId: ref }))).SecretString;
  } else {
    // GetParameter takes the ARN as the name (`parameter/a` and `parameter//a` differ only there).
    pem = (await new SSMClient({}).send(new GetParameterCommand({ Name: ref, WithDecryption: true }))).Parameter?.Value;
  }
  if (!pem?.includes('-----BEGIN CERTIFICATE-----')) {
    throw new ValidationError(`${field}: ${ref} holds no PEM certificate`);
  }
  return pem;
}
