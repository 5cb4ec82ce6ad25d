// @ts-check
// The one parser of KEY_ATTRIBUTES, in JavaScript so that both the code (shared/core/config.ts) and
// the CloudFormation that Serverless loads with require() (resources/tables.js) use it.

/** @typedef {{ name: string, type: 'S' | 'N' | 'B' }} KeyAttribute */

const NAME = /^[^\s,:]{1,255}$/;

/**
 * Parses `KEY_ATTRIBUTES`: `id`, `pk,sk`, or with types `pk:S,sk:N`. String is the default type.
 * @param {string} spec
 * @returns {[KeyAttribute] | [KeyAttribute, KeyAttribute]}
 * @throws {Error} naming what is wrong
 */
function parseKeyAttributeSpec(spec) {
  const parts = spec.split(',').map((p) => p.trim());
  if (parts.length < 1 || parts.length > 2)
    throw new Error(`KEY_ATTRIBUTES must name one or two attributes, got "${spec}"`);
  const schema = parts.map((part) => {
    const [name = '', type = 'S', ...rest] = part.split(':');
    if (!NAME.test(name) || rest.length > 0)
      throw new Error(`KEY_ATTRIBUTES has an invalid attribute "${part}"`);
    if (type !== 'S' && type !== 'N' && type !== 'B')
      throw new Error(`KEY_ATTRIBUTES type of "${name}" must be S, N or B, got "${type}"`);
    return { name, type: /** @type {'S' | 'N' | 'B'} */ (type) };
  });
  const [partition, sort] = schema;
  if (!partition) throw new Error('KEY_ATTRIBUTES is empty');
  if (!sort) return [partition];
  if (partition.name === sort.name)
    throw new Error(`KEY_ATTRIBUTES names the same attribute twice: "${spec}"`);
  return [partition, sort];
}

module.exports = { parseKeyAttributeSpec };
