import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';
import { dropUnusedRules, usedClasses } from './ui/build/used-css.ts';

/**
 * The contract's modules only define schemas and constants; their one top-level effect, registering schemas for the
 * OpenAPI document, is the connector's business. Declared side-effect free for the UI, a chunk keeps only the contract
 * values it uses (API_PREFIX is a string, not all of zod). Every other module keeps its package's own declaration.
 */
const contractWithoutSideEffects: Plugin = {
  name: 'vm2ec2:contract-without-side-effects',
  transform: {
    filter: { id: /[\\/]connector[\\/]contract[\\/]/ },
    handler: (code) => ({ code, map: null, moduleSideEffects: false }),
  },
};

// The plugin UI: one page, hash routes (index.html#/...) each in its own chunk, asset URLs relative to the <base> the
// page sets from htmlClientSdk.getProxiedPluginServerOrigin(), so it works behind the vSphere Client proxy.
export default defineConfig({
  root: 'ui',
  base: './',
  plugins: [react(), contractWithoutSideEffects],
  // Clarity's stylesheet is 1 MB; only rules whose classes the UI's sources name can match anything.
  css: { transformer: 'lightningcss', lightningcss: { visitor: dropUnusedRules(usedClasses(new URL('./ui', import.meta.url).pathname)) } },
  build: {
    outDir: '../dist/ui',
    emptyOutDir: true,
    sourcemap: false,
    target: 'es2022',
    // Every browser the vSphere Client supports has <link rel="modulepreload">: no polyfill in the entry.
    modulePreload: { polyfill: false },
  },
});
