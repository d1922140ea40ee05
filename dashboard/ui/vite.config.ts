// Builds the dashboard UI into dashboard/ui/dist, served by the service at /.
// Dev: `npx vite --config dashboard/ui/vite.config.ts` proxies /api to a running service (UI_API, default http://localhost:8080).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';

const root = fileURLToPath(new URL('.', import.meta.url));
const api = process.env.UI_API ?? 'http://localhost:8080';

export default defineConfig({
  root,
  base: '/',
  plugins: [preact()],
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 900, sourcemap: false },
  server: { proxy: { '/api': { target: api, ws: true, changeOrigin: false } } },
});
