// Google Identity Services, loaded the way Google documents it: the `gsi/client` script, the
// rendered "Sign in with Google" button, and the OAuth token client's popup flow.
// https://developers.google.com/identity/gsi/web/guides/client-library
// https://developers.google.com/identity/oauth2/web/guides/use-token-model
import { config } from './config.js'
import { update } from './fixture.js'

const GSI_CLIENT = 'https://accounts.google.com/gsi/client'
const CALENDAR_SCOPE = 'https://www.googleapis.com/auth/calendar.readonly'

let loading

function gsi(status, extra = {}) {
  update((state) => {
    state.gsi = { ...state.gsi, status, ...extra }
  })
}

export function loadGoogleIdentity() {
  loading ??= new Promise((resolve, reject) => {
    const script = document.createElement('script')
    script.src = GSI_CLIENT
    script.async = true
    script.onload = () => resolve(window.google)
    script.onerror = () => reject(new Error(`could not load ${GSI_CLIENT}`))
    document.head.appendChild(script)
  })
  return loading
}

export async function renderGoogleButton(element) {
  if (!config.googleClientId) return gsi('skipped', { reason: 'VITE_GOOGLE_CLIENT_ID is not set' })
  gsi('loading')
  try {
    const google = await loadGoogleIdentity()
    google.accounts.id.initialize({
      client_id: config.googleClientId,
      callback: (response) => gsi('credential', { credential: response.credential }),
    })
    google.accounts.id.renderButton(element, { theme: 'outline', size: 'large' })
    gsi('rendered')
  } catch (error) {
    gsi('error', { error: error.message })
  }
}

function oauth(status, extra = {}) {
  update((state) => {
    state.oauth = { status, ...extra }
  })
}

export async function requestCalendarAccess() {
  if (!config.googleClientId) return oauth('skipped', { reason: 'VITE_GOOGLE_CLIENT_ID is not set' })
  oauth('requested')
  try {
    const google = await loadGoogleIdentity()
    const client = google.accounts.oauth2.initTokenClient({
      client_id: config.googleClientId,
      scope: CALENDAR_SCOPE,
      callback: (response) =>
        response.error
          ? oauth('error', { error: response.error })
          : oauth('token', { accessToken: response.access_token, scope: response.scope }),
      error_callback: (error) => oauth('error', { error: error.type }),
    })
    client.requestAccessToken()
  } catch (error) {
    oauth('error', { error: error.message })
  }
}
