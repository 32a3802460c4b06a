import './consultation.css'

import { useEffect } from 'react'

import { update } from '../fixture.js'
import { bookConsultation } from '../integrations.js'
import { metrics } from '../telemetry.js'

// The release this chunk was built for (vite.config.js `define`): different releases give this
// chunk different content, so a different fingerprinted name.
const RELEASE = __FIXTURE_RELEASE__

export default function Consultation() {
  useEffect(() => {
    update((state) => {
      state.routes.push('consultation')
      state.consultationRelease = RELEASE
    })
  }, [])

  function book() {
    metrics.increment('user_action', { action: 'booking_start' })
    bookConsultation({ procedure: 'consultation', consultationType: 'virtual', release: RELEASE })
  }

  return (
    <section data-testid="page-consultation" className="consultation">
      <h1>Book a consultation</h1>
      <p data-testid="consultation-release">release {RELEASE}</p>
      <button type="button" data-testid="book" onClick={book}>
        Request a consultation
      </button>
    </section>
  )
}
