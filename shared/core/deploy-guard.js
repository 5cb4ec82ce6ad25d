// @ts-check
// What a deploy must not do to tables, checked before CloudFormation sees the template
// (resources/deploy-guard-plugin.js runs it on `serverless deploy`). JavaScript, because
// Serverless loads plugins with require().

/**
 * @typedef {{ AttributeName?: string, KeyType?: string }} KeyElement
 * @typedef {{ AttributeName?: string, AttributeType?: string }} AttributeDefinition
 * @typedef {{ TableName?: string, KeySchema?: KeyElement[], AttributeDefinitions?: AttributeDefinition[],
 *   LocalSecondaryIndexes?: { IndexName?: string, KeySchema?: KeyElement[] }[],
 *   StreamSpecification?: { StreamEnabled?: boolean, StreamViewType?: string }, LatestStreamArn?: string }} TableShape
 * @typedef {{ Type?: string, Properties?: TableShape }} Resource
 */

/**
 * The part of a table CloudFormation cannot change in place: its key (names, roles, types) and
 * its local secondary indexes. A change to any of it replaces the table.
 * @param {TableShape} table
 */
function immutableShape(table) {
  const types = new Map((table.AttributeDefinitions ?? []).map((a) => [a.AttributeName, a.AttributeType]));
  /** @param {KeyElement[] | undefined} keys */
  const key = (keys) =>
    (keys ?? [])
      .map((k) => `${k.AttributeName}:${types.get(k.AttributeName) ?? '?'}:${k.KeyType}`)
      .sort()
      .join(',');
  const indexes = (table.LocalSecondaryIndexes ?? [])
    .map((i) => `${i.IndexName}(${key(i.KeySchema)})`)
    .sort()
    .join(';');
  return `key ${key(table.KeySchema)}${indexes ? `, indexes ${indexes}` : ''}`;
}

/**
 * Problems a deploy of `template` would cause, each a sentence naming the table and the way out;
 * an empty list when it is safe.
 * - A table of the template that exists with another key or other indexes would be replaced:
 *   refused (history tables are never replaced, and CloudFormation cannot replace a named table).
 * - A table of the template that exists outside the stack (retained by `serverless remove`)
 *   would make the create fail: it must be imported first.
 * - An attached table must exist, with the stream its settings file names, NEW_AND_OLD_IMAGES.
 * @param {{
 *   template: { Resources?: Record<string, Resource> },
 *   existing: Map<string, TableShape>,
 *   owned: Map<string, string> | undefined,
 *   stackName: string,
 *   attached?: { latest: string, stream?: string }[],
 * }} plan `existing`: DescribeTable of every table named, by name (absent: no such table);
 *   `owned`: the stack's tables, physical name → logical id (undefined: the stack does not exist).
 * @returns {string[]}
 */
function deploymentProblems({ template, existing, owned, stackName, attached = [] }) {
  /** @type {string[]} */
  const problems = [];
  for (const [logicalId, resource] of Object.entries(template.Resources ?? {})) {
    if (resource.Type !== 'AWS::DynamoDB::Table') continue;
    const wanted = resource.Properties ?? {};
    const name = wanted.TableName;
    if (!name) continue;
    const found = existing.get(name);
    if (!found) continue;
    const owner = owned?.get(name);
    if (owner === undefined) {
      problems.push(
        `table ${name} already exists but is not part of stack ${stackName} (a table kept by \`serverless remove\`?): import it into the stack as ${logicalId} before deploying, or the create fails (README, "Removing and redeploying")`,
      );
      continue;
    }
    if (owner !== logicalId)
      problems.push(
        `table ${name} belongs to ${owner} in stack ${stackName}, but the template now defines it as ${logicalId}`,
      );
    const before = immutableShape(found);
    const after = immutableShape(wanted);
    if (before !== after)
      problems.push(
        `deploying would replace table ${name} (${before} → ${after}); refused: a recorded or history table is never replaced. Keep the stage's settings as they were, or deploy another stage`,
      );
  }
  for (const table of attached) {
    const found = existing.get(table.latest);
    if (!found) {
      problems.push(`attached table ${table.latest} does not exist in this account and region`);
      continue;
    }
    const spec = found.StreamSpecification;
    if (!spec?.StreamEnabled || spec.StreamViewType !== 'NEW_AND_OLD_IMAGES')
      problems.push(
        `attached table ${table.latest} has ${spec?.StreamEnabled ? `a ${spec.StreamViewType} stream` : 'no stream'}; history needs NEW_AND_OLD_IMAGES: aws dynamodb update-table --table-name ${table.latest} --stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES`,
      );
    else if (table.stream && found.LatestStreamArn !== table.stream)
      problems.push(
        `attached table ${table.latest} now streams to ${found.LatestStreamArn}, not the ${table.stream} its settings file names (the stream was turned off and on): run \`dynamo-history init --table ${table.latest}\` again, then backfill`,
      );
  }
  return problems;
}

module.exports = { deploymentProblems, immutableShape };
