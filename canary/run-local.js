'use strict'
// Runs the journey outside Synthetics: playwright-core (canary/package.json, `npm ci`) driving a
// local Chromium. Configured by the same JOURNEY_* variables as the canary, plus:
// - CHROMIUM_PATH: the browser executable (default /usr/bin/chromium);
// - CHROMIUM_ARGS: JSON array of command-line flags (default: headless, no sandbox).
// Prints one JSON line ({"ok": true, "pages": [...]} or {"ok": false, "error": "..."}) and exits
// 0 when the journey passes, 1 when it fails, 2 when it could not run.
//
//   JOURNEY_BASE_URL=https://staging.example.com ... node canary/run-local.js

const { chromium } = require('playwright-core')

const { configFromEnv, runJourney } = require('./journey')

async function main() {
  let config
  try {
    config = configFromEnv(process.env)
  } catch (error) {
    console.log(JSON.stringify({ ok: false, error: error.message }))
    return 2
  }
  const args = process.env.CHROMIUM_ARGS
    ? JSON.parse(process.env.CHROMIUM_ARGS)
    : ['--headless', '--no-sandbox', '--disable-gpu']
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args,
    headless: true,
    timeout: 30000,
  })
  try {
    const context = await browser.newContext({ serviceWorkers: 'block' })
    const page = await context.newPage()
    const pages = await runJourney(page, config.baseUrl, config, async (name, action) => {
      const result = await action()
      console.error(`step ${name}: passed`)
      return result
    })
    console.log(JSON.stringify({ ok: true, pages }))
    return 0
  } catch (error) {
    console.log(JSON.stringify({ ok: false, error: error.message }))
    return 1
  } finally {
    await browser.close()
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.log(JSON.stringify({ ok: false, error: String(error && error.stack) }))
    process.exit(2)
  },
)
