#!/usr/bin/env node
// The CLI is TypeScript; tsx's CommonJS hook compiles it on load, so `npx pgquorum` works from a checkout
// without a build step (Node 20 has no native type stripping).
const path = require('node:path');
const { register } = require('tsx/cjs/api');

register();
const { main } = require(path.join(__dirname, '..', 'cli', 'main.ts'));

main(process.argv).then((code) => {
  // Exit explicitly: keep-alive sockets of the SDK and pg must not hold the process open. Writes to pipes and
  // files are synchronous on Linux, so nothing printed is lost; drain stdout anyway for other platforms.
  process.stdout.write('', () => process.exit(code));
});
