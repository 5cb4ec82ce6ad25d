#!/usr/bin/env node
// The `dynamo-history` CLI. Runs the TypeScript sources through tsx (a dev dependency of this repo).

// The SDK's notice that its 2027 releases need Node.js 22 would precede every command's output;
// the README says so once instead. An explicit setting wins.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// Output piped into a command that stops reading early (`dynamo-history verify | head`) is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}
require('tsx/cjs');
const { main } = require('../cli/main.ts');

main(process.argv.slice(2), {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  color: Boolean(process.stdout.isTTY) && !process.env.NO_COLOR,
  env: process.env,
  progress: process.stderr.isTTY ? (line) => process.stderr.write(`\r\u001b[2K${line}`) : undefined,
}).then((code) => {
  process.exitCode = code;
});
