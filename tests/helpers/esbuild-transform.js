// Jest transform: TypeScript → CommonJS with esbuild, the bundler the Lambdas are built with.
// Type checking is `npm run typecheck`'s job, as with any transpile-only transform.
const { transformSync } = require('esbuild');
const { createHash } = require('node:crypto');

module.exports = {
  process(source, filename) {
    const { code, map } = transformSync(source, {
      loader: filename.endsWith('.ts') ? 'ts' : 'js',
      format: 'cjs',
      target: 'node22',
      sourcemap: 'external',
      sourcefile: filename,
    });
    return { code, map };
  },
  getCacheKey(source, filename) {
    return createHash('sha256').update(`esbuild-transform-2\0${filename}\0${source}`).digest('hex');
  },
};
