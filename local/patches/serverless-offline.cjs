// Makes serverless-offline's Lambda invoke endpoint report a thrown error's
// `errorType` as its name, as AWS Lambda's Node.js runtime does, instead of the
// constant "Error". Runs on `npm install`/`npm ci` (postinstall). Idempotent, and
// loud if the installed version's code is not the one this patch knows.
'use strict';
const { readFileSync, writeFileSync, existsSync } = require('node:fs');
const { join } = require('node:path');

const file = join(
  __dirname,
  '..',
  '..',
  'node_modules',
  'serverless-offline',
  'src',
  'lambda',
  'routes',
  'invocations',
  'InvocationsController.js',
);
const before = 'errorType: "Error",';
const after =
  'errorType: (err && typeof err.name === "string" && err.name) || "Error", // patched by dynamo-history';

if (!existsSync(file)) {
  console.log('serverless-offline not installed; nothing to patch');
  process.exit(0);
}
const source = readFileSync(file, 'utf8');
if (source.includes(after)) process.exit(0);
const count = source.split(before).length - 1;
if (count !== 1) {
  console.error(
    `cannot patch ${file}: expected one "${before}", found ${count}. Was serverless-offline upgraded?`,
  );
  process.exit(1);
}
writeFileSync(file, source.replace(before, after));
console.log('patched serverless-offline: invocation errors report their errorType');
