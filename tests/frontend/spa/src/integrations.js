// The third-party calls the clinic's app makes, each outcome recorded on window.__fixture.calls.
import { config } from './config.js'
import { recordCall } from './fixture.js'
import { checkHealth } from './lib/health.js'
import { logger, timedFetch } from './telemetry.js'

async function outcome(name, call) {
  recordCall(name, { status: 'pending' })
  try {
    const result = await call()
    recordCall(name, { status: 'ok', ...result })
    logger.info(`${name} ok`)
  } catch (error) {
    recordCall(name, { status: 'error', error: String(error?.message ?? error) })
    logger.warn(`${name} failed`, { error: String(error?.message ?? error) })
  }
}

function skipped(name, variable) {
  recordCall(name, { status: 'skipped', reason: `${variable} is not set` })
}

async function json(response) {
  if (!response.ok) throw new Error(`HTTP ${response.status}`)
  return { httpStatus: response.status, body: await response.json() }
}

export function supabaseProcedures() {
  if (!config.supabaseUrl) return skipped('supabaseRest', 'VITE_SUPABASE_URL')
  return outcome('supabaseRest', async () =>
    json(
      await timedFetch(`${config.supabaseUrl}/rest/v1/procedures?select=*`, {
        headers: {
          apikey: config.supabaseAnonKey,
          Authorization: `Bearer ${config.supabaseAnonKey}`,
        },
      }),
    ),
  )
}

// Supabase realtime speaks Phoenix channels over a websocket: join a topic, expect phx_reply.
export function supabaseRealtime() {
  if (!config.supabaseUrl) return skipped('supabaseRealtime', 'VITE_SUPABASE_URL')
  const url =
    config.supabaseUrl.replace(/^http/, 'ws') +
    `/realtime/v1/websocket?apikey=${encodeURIComponent(config.supabaseAnonKey)}&vsn=1.0.0`
  return outcome(
    'supabaseRealtime',
    () =>
      new Promise((resolve, reject) => {
        const socket = new WebSocket(url)
        const timer = setTimeout(() => reject(new Error('no phx_reply within 5 s')), 5000)
        socket.addEventListener('open', () =>
          socket.send(
            JSON.stringify({
              topic: 'realtime:public:procedures',
              event: 'phx_join',
              payload: {},
              ref: '1',
            }),
          ),
        )
        socket.addEventListener('message', (event) => {
          const message = JSON.parse(event.data)
          if (message.event === 'phx_reply' && message.ref === '1') {
            clearTimeout(timer)
            socket.close()
            resolve({ reply: message.payload.status })
          }
        })
        socket.addEventListener('error', () => {
          clearTimeout(timer)
          reject(new Error('websocket error'))
        })
      }),
  )
}

export function bookConsultation(details) {
  if (!config.n8nWebhookUrl) return skipped('n8n', 'VITE_N8N_WEBHOOK_URL')
  return outcome('n8n', async () =>
    json(
      await timedFetch(config.n8nWebhookUrl, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(details),
      }),
    ),
  )
}

export function googleCalendar() {
  if (!config.googleApiKey) return skipped('googleApi', 'VITE_GOOGLE_API_KEY')
  return outcome('googleApi', async () =>
    json(
      await timedFetch(
        'https://www.googleapis.com/calendar/v3/calendars/primary/events?key=' +
          encodeURIComponent(config.googleApiKey),
      ),
    ),
  )
}

export function health() {
  return outcome('health', async () => {
    const { status, body } = await checkHealth()
    return { httpStatus: status, body }
  })
}

// `?violate=1`: a request to an origin no Content-Security-Policy allows, for the CSP tests.
export function violation() {
  return outcome('violation', async () => {
    const response = await fetch('https://not-allowed.invalid/x')
    return { httpStatus: response.status }
  })
}
