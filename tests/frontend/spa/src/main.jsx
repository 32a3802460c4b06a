import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { BrowserRouter } from 'react-router'

import { App } from './App.jsx'
import './app.css'
import { config } from './config.js'
import { update } from './fixture.js'
import {
  googleCalendar,
  health,
  supabaseProcedures,
  supabaseRealtime,
  violation,
} from './integrations.js'
import { flushTelemetry, logger, metrics } from './telemetry.js'

// What the runtime configuration gave this page (the keys only where values are secrets).
update((state) => {
  state.config = {
    supabaseUrl: config.supabaseUrl ?? null,
    supabaseAnonKeySet: Boolean(config.supabaseAnonKey),
    n8nWebhookUrl: config.n8nWebhookUrl ?? null,
    googleClientId: config.googleClientId ?? null,
    googleApiKeySet: Boolean(config.googleApiKey),
    appVersion: config.appVersion ?? null,
    appEnv: config.appEnv ?? null,
    logEndpoint: config.logEndpoint ?? null,
    metricsEndpoint: config.metricsEndpoint ?? null,
    enableAnalytics: config.enableAnalytics ?? null,
    runtimeGlobalPresent: typeof globalThis.__MIKO_ENV__ === 'object',
  }
})

// A <style> element made at run time, as CSS-in-JS libraries (emotion, styled-components) do; a
// CSP without 'unsafe-inline' in style-src blocks it, which the probe below shows.
function injectStyle() {
  const style = document.createElement('style')
  style.dataset.fixture = 'injected'
  style.textContent = '.fixture-injected-probe { outline: 3px solid rgb(1, 2, 3); }'
  document.head.appendChild(style)
  const probe = document.createElement('div')
  probe.className = 'fixture-injected-probe'
  document.body.appendChild(probe)
  const applied = getComputedStyle(probe).outlineColor === 'rgb(1, 2, 3)'
  probe.remove()
  update((state) => {
    state.style = { injected: true, applied }
  })
}

injectStyle()
createRoot(document.getElementById('root')).render(
  <StrictMode>
    <BrowserRouter>
      <App />
    </BrowserRouter>
  </StrictMode>,
)

async function start() {
  const params = new URLSearchParams(window.location.search)
  const calls = [health(), supabaseProcedures(), supabaseRealtime(), googleCalendar()]
  if (params.get('violate') === '1') calls.push(violation())
  await Promise.all(calls)
  const navigation = performance.getEntriesByType('navigation')[0]
  metrics.timing('page_load_time', navigation ? navigation.duration || performance.now() : 0)
  // Logs more than it should, as a clinic's code may: the service redacts the key's value
  // (app/redaction.py), and the browser tests check that it never reaches stdout.
  logger.info('fixture started', {
    release: __FIXTURE_RELEASE__,
    supabaseAnonKey: config.supabaseAnonKey ?? null,
  })
  await flushTelemetry()
  update((state) => {
    state.started = true
  })
}

start().catch((error) =>
  update((state) => {
    state.errors.push(`start: ${error.message}`)
  }),
)
