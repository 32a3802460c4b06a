'use strict'
// The CloudWatch Synthetics handler (runtime syn-nodejs-playwright, handler `index.handler`):
// the runtime's browser and page, each page of the journey one reported step. The journey
// itself is journey.js; this file only binds it to the runtime.

// Provided by the Synthetics runtime (not in package.json, never installed locally).
const { synthetics } = require('@aws/synthetics-playwright')

const { configFromEnv, runJourney } = require('./journey')

exports.handler = async () => {
  const config = configFromEnv(process.env)
  try {
    const browser = await synthetics.launch()
    const page = await synthetics.newPage(browser)
    return await runJourney(page, config.baseUrl, config, (name, action) =>
      synthetics.executeStep(name, action),
    )
  } finally {
    await synthetics.close()
  }
}
