// @ts-check
// A Serverless plugin that checks, before `serverless deploy` touches CloudFormation, that the deploy
// replaces no table and finds no table in its way (shared/core/deploy-guard.js). It only reads:
// DescribeTable for each table the template names or attaches, ListStackResources for the stack.

const { deploymentProblems } = require('../shared/core/deploy-guard.js');
const { deploymentSettings } = require('../shared/core/stage-config.js');
const { resolve } = require('node:path');

/**
 * @typedef {{ request: (service: string, method: string, params: object) => Promise<any>,
 *   naming: { getStackName: () => string }, getStage: () => string }} AwsProvider
 */

class DeployGuard {
  /**
   * @param {{ getProvider: (name: string) => AwsProvider, service: { service: string, provider: { compiledCloudFormationTemplate: { Resources?: Record<string, import('../shared/core/deploy-guard.js').Resource> } } },
   *   classes: { Error: new (message: string) => Error }, cli?: { log: (line: string) => void } }} serverless
   */
  constructor(serverless) {
    this.serverless = serverless;
    this.hooks = { 'before:aws:deploy:deploy:createStack': () => this.check() };
  }

  async check() {
    const provider = this.serverless.getProvider('aws');
    const stackName = provider.naming.getStackName();
    const template = this.serverless.service.provider.compiledCloudFormationTemplate;
    const settings = deploymentSettings({
      service: this.serverless.service.service,
      stage: provider.getStage(),
      cwd: resolve(__dirname, '..'),
    });
    const attached = settings.mode === 'attached' ? settings.tables : [];
    const names = new Set([
      ...Object.values(template.Resources ?? {})
        .filter((r) => /** @type {{ Type?: string }} */ (r).Type === 'AWS::DynamoDB::Table')
        .map((r) => /** @type {{ Properties?: { TableName?: string } }} */ (r).Properties?.TableName)
        .filter((n) => typeof n === 'string'),
      ...attached.map((t) => t.latest),
    ]);
    /** @type {Map<string, any>} */
    const existing = new Map();
    for (const name of names) {
      try {
        const out = await provider.request('DynamoDB', 'describeTable', { TableName: name });
        existing.set(/** @type {string} */ (name), out.Table);
      } catch (error) {
        if (
          !/ResourceNotFound|not found/i.test(
            `${/** @type {any} */ (error).code} ${/** @type {Error} */ (error).message}`,
          )
        )
          throw error;
      }
    }
    const owned = await stackTables(provider, stackName);
    const problems = deploymentProblems({ template, existing, owned, stackName, attached });
    if (problems.length > 0)
      throw new this.serverless.classes.Error(
        `dynamo-history refused the deploy of ${stackName}; nothing was changed:\n- ${problems.join('\n- ')}`,
      );
    this.serverless.cli?.log(`dynamo-history: ${names.size} table(s) checked, none replaced`);
  }
}

/**
 * The stack's tables, physical name → logical id, or undefined when the stack does not exist.
 * @param {AwsProvider} provider @param {string} stackName
 */
async function stackTables(provider, stackName) {
  /** @type {Map<string, string>} */
  const owned = new Map();
  let token;
  do {
    let page;
    try {
      page = await provider.request('CloudFormation', 'listStackResources', {
        StackName: stackName,
        ...(token ? { NextToken: token } : {}),
      });
    } catch (error) {
      if (/does not exist/i.test(/** @type {Error} */ (error).message)) return undefined;
      throw error;
    }
    for (const r of page.StackResourceSummaries ?? [])
      if (r.ResourceType === 'AWS::DynamoDB::Table' && r.PhysicalResourceId)
        owned.set(r.PhysicalResourceId, r.LogicalResourceId);
    token = page.NextToken;
  } while (token);
  return owned;
}

module.exports = DeployGuard;
