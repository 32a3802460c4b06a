// The assessment's client logger: entries are buffered and sent as one JSON array to
// VITE_LOG_ENDPOINT (the service's /api/logs, app/ingest/logs.py ClientLogEntry).
const MAX_BATCH = 100

export class Logger {
  constructor({ endpoint, environment, service = 'frontend' }) {
    this.endpoint = endpoint
    this.environment = environment ?? 'unknown'
    this.service = service
    this.buffer = []
  }

  formatLog(level, message, data = {}) {
    return {
      timestamp: new Date().toISOString(),
      level,
      message,
      service: this.service,
      environment: this.environment,
      data,
      url: window.location.href,
      userAgent: navigator.userAgent,
    }
  }

  log(level, message, data) {
    this.buffer.push(this.formatLog(level, message, data))
  }

  info(message, data) {
    this.log('INFO', message, data)
  }

  warn(message, data) {
    this.log('WARN', message, data)
  }

  error(message, data) {
    this.log('ERROR', message, data)
  }

  // Resolves to the HTTP status, 'skipped' (no endpoint or nothing to send) or 'error: ...'.
  async flush() {
    if (!this.endpoint || this.buffer.length === 0) return 'skipped'
    const batch = this.buffer.splice(0, MAX_BATCH)
    try {
      const response = await fetch(this.endpoint, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(batch),
        keepalive: true,
      })
      return response.status
    } catch (error) {
      this.buffer.unshift(...batch)
      return `error: ${error.message}`
    }
  }
}
