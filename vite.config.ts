import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The plugin UI: one bundle, hash routes (index.html#/...), asset URLs relative to the <base> the page
// sets from htmlClientSdk.getProxiedPluginServerOrigin(), so it works behind the vSphere Client proxy.
export default defineConfig({
  root: 'ui',
  base: './',
  plugins: [react()],
  build: {
    outDir: '../dist/ui',
    emptyOutDir: true,
    sourcemap: false,
    target: 'es2022',
  },
});
