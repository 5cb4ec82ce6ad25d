#!/usr/bin/env node
// The `dynamo-history` CLI. Runs the TypeScript sources through tsx (a dev dependency of this repo).

require('tsx/cjs');
const { main } = require('../cli/main.ts');

main(process.argv.slice(2), {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  color: Boolean(process.stdout.isTTY) && !process.env.NO_COLOR,
  env: process.env,
}).then((code) => {
  process.exitCode = code;
});
