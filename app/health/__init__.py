"""Health endpoints: liveness, database reachability and the external APIs.

`/health` calls nothing. `/health/db` runs the Supabase REST count query (as the front end's
health check does) and, when DATABASE_URL is set, a Postgres `SELECT 1`. `/health/apis` runs
n8n (the webhook POST `{"type": "health_check"}`), Google and Supabase. The Google check is a
reachability probe only: a HEAD of the Calendar API discovery document (no key sent, no quota
used); any answer below 500 means Google's API front end is reachable.

Checks run concurrently, each under its own timeout, and the endpoint waits at most the overall
budget, so a hanging dependency costs one budget, not the sum. Concurrent requests to the same
endpoint share one run, so a burst of probes does not multiply the calls to dependencies.
Results: a check raising or timing out is `error`, a dependency answering with a failure is
`unhealthy`, a missing setting is `unconfigured`. Overall for APIs (the assessment's rule): any
error -> `error`, else any unhealthy -> `degraded`, else `healthy`.

A failing database check logs one line with the stable fields
`{"event": "health_check", "check": "database", "target": "supabase"|"postgres",
"status": "unhealthy"|"error"}` for a CloudWatch metric filter. Since only `/health` is probed
from outside, the service also runs the database check itself (app/health/periodic.py).
"""
