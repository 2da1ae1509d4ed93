/**
 * Tests that reach mqttd through `import 'mqttd'` (package exports, the examples) must load this
 * repository's sources. That takes the `mqttd-source` export condition, which npm scripts and
 * scripts/run-tests.js pass to every process (.npmrc); without it the import would go to the
 * built dist/, which may be missing or stale. Fails loudly, with the fix, instead.
 */
const resolved = import.meta.resolve('mqttd')
if (!resolved.endsWith('/src/index.ts')) {
  throw new Error(
    `import 'mqttd' resolves to ${resolved}, not to src/: run this test through npm ` +
      '(npm run test:only -- <file>) or scripts/run-tests.js, or add -C mqttd-source to node.',
  )
}
