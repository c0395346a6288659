#!/usr/bin/env node
// Runs the compiled CLI (dist/cli/main.js, built by `npm run build` and by the `prepare` hook of `npm ci`), so a
// production install needs neither tsx nor TypeScript and `--help` answers in well under a second.
const fs = require('node:fs');
const path = require('node:path');

const main = path.join(__dirname, '..', 'dist', 'cli', 'main.js');
if (!fs.existsSync(main)) {
  process.stderr.write(
    'pgquorum: the CLI is not built (no dist/cli/main.js): run `npm run build` in a checkout with dev dependencies, or install the packed release (`npm pack`)\n',
  );
  process.exit(4);
}
require(main)
  .main(process.argv)
  .then((code) => {
    // Exit explicitly: keep-alive sockets of the SDK and pg must not hold the process open. Writes to pipes and
    // files are synchronous on Linux, so nothing printed is lost; drain stdout anyway for other platforms.
    process.stdout.write('', () => process.exit(code));
  });
