// The service's liveness endpoint (app/contract.py HEALTH_PATH), same origin.
export async function checkHealth() {
  const response = await fetch('/health', { headers: { Accept: 'application/json' } })
  return { status: response.status, body: await response.json() }
}
