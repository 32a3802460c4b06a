// The runtime configuration as the app reads it: plain `import.meta.env.VITE_*` reads, in the
// forms a clinic's code may use. The platform's build makes each of them read
// `globalThis.__MIKO_ENV__` at run time (app/frontend/platform.vite.config.mjs).
const { VITE_APP_ENV } = import.meta.env // the whole object
const env = import.meta.env

export const config = {
  supabaseUrl: import.meta.env.VITE_SUPABASE_URL,
  supabaseAnonKey: import.meta.env?.VITE_SUPABASE_ANON_KEY,
  n8nWebhookUrl: import.meta.env
    .VITE_N8N_WEBHOOK_URL, // a read broken over two lines
  googleClientId: env.VITE_GOOGLE_CLIENT_ID,
  googleApiKey: import.meta.env['VITE_GOOGLE_API_KEY'],
  appVersion: import.meta.env.VITE_APP_VERSION,
  appEnv: VITE_APP_ENV,
  logEndpoint: import.meta.env.VITE_LOG_ENDPOINT,
  metricsEndpoint: import.meta.env.VITE_METRICS_ENDPOINT,
  // A feature flag: a plain value of the stack's browserValues, not a secret.
  enableAnalytics: import.meta.env.VITE_ENABLE_ANALYTICS,
}
