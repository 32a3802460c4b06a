import { config } from './config.js'
import { fixture, update } from './fixture.js'
import { Logger } from './lib/logger.js'
import { MetricsCollector } from './lib/metrics.js'

export const logger = new Logger({ endpoint: config.logEndpoint, environment: config.appEnv })
export const metrics = new MetricsCollector({
  endpoint: config.metricsEndpoint,
  environment: config.appEnv,
})

export async function flushTelemetry() {
  const [logs, sent] = await Promise.all([logger.flush(), metrics.flush()])
  update((state) => {
    state.logs.flushes.push(logs)
    state.metrics.flushes.push(sent)
  })
  return { logs, metrics: sent }
}

// fetch, timed into api_response_time (endpoint without its query string, which may hold keys).
export async function timedFetch(url, options) {
  const started = performance.now()
  const endpoint = String(url).split('?', 1)[0]
  try {
    const response = await fetch(url, options)
    const status = String(response.status)
    metrics.timing('api_response_time', performance.now() - started, { endpoint, status })
    return response
  } catch (error) {
    metrics.timing('api_response_time', performance.now() - started, { endpoint, status: 'error' })
    metrics.increment('error_count', { errorType: 'network' })
    logger.error('request failed', { endpoint, error: error.message })
    throw error
  }
}

export function recordError(where, error) {
  update((state) => {
    state.errors.push(`${where}: ${error?.message ?? error}`)
  })
  return fixture
}
