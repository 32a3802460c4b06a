// Placeholder front end: shows the service's liveness report until the real build replaces it.
const status = document.getElementById("status");

async function showHealth() {
  try {
    const response = await fetch("/health", { headers: { Accept: "application/json" } });
    const health = await response.json();
    status.textContent = `service ${health.status} · version ${health.version} · ${health.environment}`;
  } catch (error) {
    status.textContent = `health check failed: ${error.message}`;
  }
}

showHealth();
