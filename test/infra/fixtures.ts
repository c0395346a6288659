import fs from 'node:fs';
import path from 'node:path';

/** Parsed JSON the tests poke into at arbitrary paths (typing every template and config shape buys nothing here). */
// biome-ignore lint/suspicious/noExplicitAny: tests mutate and read JSON at arbitrary paths.
export type Json = any;

/** A fresh copy of the sample configuration in cdk.json (what `npx cdk synth` on a fresh clone uses). */
export function sampleConfig(): Json {
  const cdkJson = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'cdk.json'), 'utf8'));
  return structuredClone(cdkJson.context.pgquorum);
}
