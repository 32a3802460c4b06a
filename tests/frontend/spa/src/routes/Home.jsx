import { useEffect, useRef } from 'react'

import { update } from '../fixture.js'
import { renderGoogleButton, requestCalendarAccess } from '../google.js'

export function Home() {
  const button = useRef(null)
  useEffect(() => {
    update((state) => {
      state.routes.push('home')
    })
    renderGoogleButton(button.current)
  }, [])
  return (
    <section data-testid="page-home">
      <h1>MiKO Plastic Surgery</h1>
      <div ref={button} data-testid="gsi-button" />
      <button type="button" data-testid="google-sign-in" onClick={requestCalendarAccess}>
        Sign in with Google
      </button>
    </section>
  )
}
