import { lazy, Suspense, useSyncExternalStore } from 'react'
import { Link, Route, Routes } from 'react-router'

import { fixture, subscribe } from './fixture.js'
import { Home } from './routes/Home.jsx'
import { flushTelemetry } from './telemetry.js'

// A lazy route: its own JavaScript chunk and its own CSS chunk.
const Consultation = lazy(() => import('./routes/Consultation.jsx'))

function useFixture() {
  return useSyncExternalStore(subscribe, () => fixture.version)
}

function CallStatus() {
  useFixture()
  return (
    <ul>
      {Object.entries(fixture.calls).map(([name, outcome]) => (
        <li key={name}>
          {name}: <span data-testid={`call-${name}`}>{outcome.status}</span>
        </li>
      ))}
      <li>
        oauth: <span data-testid="oauth-status">{fixture.oauth.status}</span>
      </li>
      <li>
        gsi: <span data-testid="gsi-status">{fixture.gsi.status}</span>
      </li>
    </ul>
  )
}

export function App() {
  return (
    <main data-testid="app-ready">
      <nav>
        <Link to="/" data-testid="nav-home">
          Home
        </Link>
        <Link to="/consultation" data-testid="nav-consultation">
          Book a consultation
        </Link>
        <button type="button" data-testid="flush-telemetry" onClick={() => flushTelemetry()}>
          Send logs and metrics
        </button>
      </nav>
      <Suspense fallback={<p data-testid="route-loading">Loading…</p>}>
        <Routes>
          <Route path="/" element={<Home />} />
          <Route path="/consultation" element={<Consultation />} />
          <Route path="*" element={<p data-testid="page-not-found">Not found</p>} />
        </Routes>
      </Suspense>
      <CallStatus />
    </main>
  )
}
