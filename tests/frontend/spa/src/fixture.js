// Everything a browser test observes, on `window.__fixture`, plus a subscription for React.
const listeners = new Set()

export const fixture = {
  release: __FIXTURE_RELEASE__,
  mode: import.meta.env.MODE,
  config: {},
  calls: {},
  oauth: { status: 'idle' },
  gsi: { status: 'idle' },
  logs: { flushes: [] },
  metrics: { flushes: [] },
  routes: [],
  consultationRelease: null,
  style: {},
  errors: [],
  version: 0,
}
window.__fixture = fixture

export function update(change) {
  change(fixture)
  fixture.version += 1
  for (const listener of listeners) listener()
}

export function subscribe(listener) {
  listeners.add(listener)
  return () => listeners.delete(listener)
}

export function recordCall(name, outcome) {
  update((state) => {
    state.calls[name] = outcome
  })
}
