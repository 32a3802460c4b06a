'use strict'
// The synthetic patient journey: the clinic's home page, then the consultation booking page,
// loaded the way a patient loads them (a full page load of the public URL each).
//
// Each page passes when:
// - the document answers HTTP 200;
// - every required security header arrives with it (the header set the edge and the service
//   send: app/security_headers.py);
// - the page's selector becomes visible (the SPA rendered; the booking form is there);
// - the page logs no console error and throws no uncaught exception, up to `settleMs` after the
//   selector appeared (late failures: lazy chunks, effects).
//
// Plain Playwright `page` API only, so the same function runs in the CloudWatch Synthetics
// Playwright runtime (index.js) and on a laptop or in the tests (run-local.js). Everything that
// depends on the SPA is configuration (environment variables from the stack's config, see
// `configFromEnv`): the clinic's real SPA replaces the fixture without a change here.

const DEFAULT_TIMEOUT_MS = 15000
const DEFAULT_SETTLE_MS = 1000

function required(env, name) {
  const value = env[name]
  if (value === undefined || value.trim() === '') throw new Error(`${name} is not set`)
  return value.trim()
}

function positiveInteger(env, name, fallback) {
  const text = env[name]
  if (text === undefined || text === '') return fallback
  const value = Number(text)
  if (!Number.isInteger(value) || value < 0) {
    throw new Error(`${name} must be a non-negative integer, not ${JSON.stringify(text)}`)
  }
  return value
}

function jsonStringList(env, name) {
  const text = env[name]
  if (text === undefined || text.trim() === '') return []
  const value = JSON.parse(text)
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) {
    throw new Error(`${name} must be a JSON array of strings`)
  }
  return value
}

/**
 * The journey's settings from environment variables (the canary's run_config environment):
 * - JOURNEY_BASE_URL: the public URL (https://host, no path);
 * - JOURNEY_HOME_SELECTOR: an element the SPA always renders on its home page;
 * - JOURNEY_BOOKING_PATH: the booking page's path (/consultation);
 * - JOURNEY_BOOKING_SELECTOR: the booking form on that page;
 * - JOURNEY_REQUIRED_HEADERS: comma-separated header names every document must carry;
 * - JOURNEY_IGNORED_CONSOLE_ERRORS: JSON array of regular expressions; a console error matching
 *   one does not fail the journey (a third party's known noise), optional;
 * - JOURNEY_TIMEOUT_MS: bound of each navigation and selector wait (default 15000);
 * - JOURNEY_SETTLE_MS: how long a page is watched for late errors (default 1000).
 */
function configFromEnv(env) {
  const baseUrl = required(env, 'JOURNEY_BASE_URL').replace(/\/+$/, '')
  if (!/^https?:\/\/[^/]+$/.test(baseUrl)) {
    throw new Error(`JOURNEY_BASE_URL must be an origin (scheme://host[:port]), not ${baseUrl}`)
  }
  const bookingPath = required(env, 'JOURNEY_BOOKING_PATH')
  if (!bookingPath.startsWith('/')) throw new Error('JOURNEY_BOOKING_PATH must start with /')
  return {
    baseUrl,
    homeSelector: required(env, 'JOURNEY_HOME_SELECTOR'),
    bookingPath,
    bookingSelector: required(env, 'JOURNEY_BOOKING_SELECTOR'),
    requiredHeaders: required(env, 'JOURNEY_REQUIRED_HEADERS')
      .split(',')
      .map((name) => name.trim().toLowerCase())
      .filter(Boolean),
    ignoredConsoleErrors: jsonStringList(env, 'JOURNEY_IGNORED_CONSOLE_ERRORS').map(
      (source) => new RegExp(source),
    ),
    timeoutMs: positiveInteger(env, 'JOURNEY_TIMEOUT_MS', DEFAULT_TIMEOUT_MS),
    settleMs: positiveInteger(env, 'JOURNEY_SETTLE_MS', DEFAULT_SETTLE_MS),
  }
}

/** The journey's pages, in order: each one a full load of `baseUrl + path`. */
function journeyPages(config) {
  return [
    { step: 'home-page', path: '/', selector: config.homeSelector },
    { step: 'consultation-booking', path: config.bookingPath, selector: config.bookingSelector },
  ]
}

/** Loads one page and returns what it saw; throws with every problem found on that page. */
async function checkPage(page, url, selector, config) {
  const problems = []
  const onConsole = (message) => {
    if (message.type() !== 'error') return
    const text = message.text()
    if (config.ignoredConsoleErrors.some((pattern) => pattern.test(text))) return
    const where = message.location() && message.location().url
    // The browser's own favicon probe (a page without <link rel="icon">) is not the SPA's.
    if (where && new URL(where).pathname === '/favicon.ico') return
    problems.push(`console error: ${text}${where ? ` (${where})` : ''}`)
  }
  const onPageError = (error) => problems.push(`uncaught exception: ${error.message}`)
  page.on('console', onConsole)
  page.on('pageerror', onPageError)
  let status = null
  try {
    const response = await page.goto(url, { waitUntil: 'load', timeout: config.timeoutMs })
    if (!response) throw new Error(`${url}: no response`)
    status = response.status()
    if (status !== 200) problems.push(`HTTP ${status}, expected 200`)
    const headers = await response.allHeaders()
    const missing = config.requiredHeaders.filter((name) => !headers[name])
    if (missing.length) problems.push(`security headers missing: ${missing.join(', ')}`)
    try {
      await page.waitForSelector(selector, { state: 'visible', timeout: config.timeoutMs })
    } catch (error) {
      problems.push(`selector ${selector} not visible within ${config.timeoutMs} ms`)
    }
    if (config.settleMs > 0) await page.waitForTimeout(config.settleMs)
  } finally {
    page.off('console', onConsole)
    page.off('pageerror', onPageError)
  }
  if (problems.length) throw new Error(`${url}: ${problems.join('; ')}`)
  return { url, status }
}

async function runStep(name, action) {
  return action()
}

/**
 * Walks the journey on `page` (a Playwright page) against `baseUrl`; `step(name, action)` runs
 * each page's check (the Synthetics runtime passes `synthetics.executeStep`). Resolves with what
 * each page answered; rejects with the first page's problems.
 */
async function runJourney(page, baseUrl, config, step = runStep) {
  const origin = baseUrl.replace(/\/+$/, '')
  const results = []
  for (const { step: name, path, selector } of journeyPages(config)) {
    const result = await step(name, () => checkPage(page, origin + path, selector, config))
    results.push({ step: name, ...(result || { url: origin + path }) })
  }
  return results
}

module.exports = { configFromEnv, journeyPages, runJourney }
