// The assessment's MetricsCollector: aggregates by name and tags, flushed as one document to
// VITE_METRICS_ENDPOINT (the service's /api/metrics, app/ingest/client_metrics.py).
export class MetricsCollector {
  constructor({ endpoint, environment }) {
    this.endpoint = endpoint
    this.environment = environment ?? 'unknown'
    this.aggregates = new Map()
  }

  record(name, value, tags = {}) {
    const key = name + JSON.stringify(Object.entries(tags).sort())
    const current = this.aggregates.get(key)
    if (current) {
      current.count += 1
      current.sum += value
      current.min = Math.min(current.min, value)
      current.max = Math.max(current.max, value)
    } else {
      this.aggregates.set(key, {
        name,
        tags,
        count: 1,
        sum: value,
        min: value,
        max: value,
        recordedAt: new Date().toISOString(),
      })
    }
  }

  timing(name, milliseconds, tags = {}) {
    this.record(name, Math.round(milliseconds), { ...tags, unit: 'ms' })
  }

  increment(name, tags = {}) {
    this.record(name, 1, tags)
  }

  getMetrics() {
    return [...this.aggregates.values()].map((metric) => ({
      ...metric,
      avg: metric.sum / metric.count,
    }))
  }

  async flush() {
    const metrics = this.getMetrics()
    if (!this.endpoint || metrics.length === 0) return 'skipped'
    this.aggregates.clear()
    try {
      const response = await fetch(this.endpoint, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({
          timestamp: new Date().toISOString(),
          environment: this.environment,
          metrics,
        }),
        keepalive: true,
      })
      return response.status
    } catch (error) {
      return `error: ${error.message}`
    }
  }
}
