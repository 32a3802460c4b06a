// The fixture's own Vite config, as a clinic's app has one. The platform's build wraps it
// (app/frontend/platform.vite.config.mjs) without changing it.
import react from '@vitejs/plugin-react'
import { defineConfig } from 'vite'

export default defineConfig({
  plugins: [react()],
  define: {
    // Used by the lazy route, so two releases of the fixture differ in their chunks' names.
    __FIXTURE_RELEASE__: JSON.stringify(process.env.FIXTURE_RELEASE ?? 'one'),
  },
})
