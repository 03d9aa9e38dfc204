// Builds the UI into flat, unhashed files that nsqadmin embeds and serves as
// <base>static/main.js, main.css and favicon.png. The HTML shell comes from
// nsqadmin itself, so there is no index.html here.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  publicDir: 'public',
  esbuild: { jsx: 'automatic', legalComments: 'none' },
  build: {
    outDir: '../nsqadmin/static',
    emptyOutDir: true,
    target: 'es2020',
    sourcemap: false,
    minify: 'esbuild',
    reportCompressedSize: false,
    modulePreload: false,
    assetsInlineLimit: 0,
    rollupOptions: {
      input: 'src/main.tsx',
      output: {
        entryFileNames: 'main.js',
        chunkFileNames: 'main-[name].js',
        assetFileNames: '[name][extname]',
        inlineDynamicImports: true,
      },
    },
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
