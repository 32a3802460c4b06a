// The platform's Vite config: the clinic's own config, plus the build settings the platform
// needs. scripts/build-frontend puts this file in a scratch copy of the clinic's app as
// `vite.config.mjs`, renames the clinic's config to `vite.clinic.config.<ext>` and points
// MIKO_CLINIC_VITE_CONFIG at it; the clinic's `npm run build` then runs with both, and no line
// of the clinic's code changes.
//
// 1. Runtime configuration. Vite replaces `import.meta.env.VITE_*` with the values it finds at
//    build time ("statically replaced", https://vite.dev/guide/env-and-mode), and it reads them
//    from the build machine's environment as well as from .env files. One image serves staging
//    and production, so a build-time value would be the wrong stack's half of the time, and a
//    secret in the build environment would end up in a public file. The `miko-runtime-env`
//    plugin below rewrites every such read in the app's own modules, before Vite's define step
//    sees it, into a read of `globalThis.__MIKO_ENV__` (app/contract.py RUNTIME_CONFIG_GLOBAL),
//    which the service sets from its environment in a script it adds to every HTML page before
//    the app's scripts (RUNTIME_CONFIG_PATH). `import.meta.env.MODE`, `DEV`, `PROD`, `BASE_URL`
//    and `SSR` are left to Vite: they describe the build, not the stack.
// 2. Source maps. `build.sourcemap: 'hidden'` emits the .map files (for error tracking) without
//    the `//# sourceMappingURL=` comment in the bundles
//    (https://vite.dev/config/build-options#build-sourcemap); scripts/build-frontend then moves
//    the maps out of the served directory, so nobody downloads the clinic's source.
// 3. Layout. The output lands in `dist/` with fingerprinted files under `assets/`
//    (https://vite.dev/config/build-options#build-outdir, #build-assetsdir): the build script
//    takes `dist/`, and the service caches `/assets/` (ASSETS_PREFIX) for a year as immutable.
import { relative } from 'node:path'

import { loadConfigFromFile, mergeConfig } from 'vite'

const RUNTIME_GLOBAL = '__MIKO_ENV__'

// Keys Vite fills from the build itself; everything else comes from the runtime script.
const BUILD_KEYS = ['BASE_URL', 'MODE', 'DEV', 'PROD', 'SSR']

// `import.meta.env.VITE_X` and `import.meta.env?.VITE_X`, even split over lines.
const ENV = 'import.meta.env'
const VITE_READ = /\bimport\.meta\.env(\s*)(\?\.|\.)\s*VITE_[A-Za-z0-9_]+\b/g
// `import.meta.env` used as a whole (`const { VITE_X } = import.meta.env`, `import.meta.env[k]`):
// Vite would inline the whole build-time object, VITE_* values included.
const WHOLE_ENV = /\bimport\.meta\.env\b(?!\s*(?:\?\.|\.)\s*[A-Za-z_$])/g

const HTML_ENV = /%VITE_[A-Za-z0-9_]+%/g

// The app's own modules (queries such as `?v=` stripped), and inline scripts of index.html.
const APP_MODULE = /\.(?:[cm]?[jt]s|[jt]sx)$/

// `import.meta.env.VITE_X` becomes `globalThis.__MIKO_ENV__?.VITE_X`. Optional chaining: a
// page without the runtime script reads `undefined`, as Vite gives for a variable that is not
// set, instead of failing with a TypeError at the app's first import. Only the object and the
// dot are replaced, so whitespace (and line breaks) between them and the name stay.
function runtimeReadEdits(match) {
  const dot = match.index + ENV.length + match[1].length
  return [
    [match.index, match.index + ENV.length, `globalThis.${RUNTIME_GLOBAL}`],
    [dot, dot + match[2].length, '?.'],
  ]
}

function wholeEnvObject() {
  const build = BUILD_KEYS.map((key) => `${key}: import.meta.env.${key}`).join(', ')
  return `({ ${build}, ...globalThis.${RUNTIME_GLOBAL} })`
}

function isAppModule(id) {
  if (id.startsWith('\0') || id.includes('/node_modules/')) return false
  const [path, query = ''] = id.split('?', 2)
  return APP_MODULE.test(path) || (query.includes('html-proxy') && query.endsWith('.js'))
}

export function runtimeEnvPlugin() {
  return {
    name: 'miko-runtime-env',
    // Before Vite's own transforms: in Vite 8 the define step that inlines `import.meta.env`
    // runs in Rolldown's transform, after the JavaScript plugins' `transform` hooks.
    enforce: 'pre',
    // `vite dev` keeps Vite's behaviour (.env files): only builds are served by the platform.
    apply: 'build',
    transform(code, id) {
      if (!isAppModule(id) || !code.includes('import.meta.env')) return null
      const edits = []
      for (const match of code.matchAll(VITE_READ)) edits.push(...runtimeReadEdits(match))
      for (const match of code.matchAll(WHOLE_ENV)) {
        edits.push([match.index, match.index + ENV.length, wholeEnvObject()])
      }
      if (edits.length === 0) return null
      return applyEdits(code, id, edits)
    },
    // Vite also writes env values into HTML (`%VITE_X%`, "HTML Env Replacement" on the page
    // above) after the `pre` hooks: at build time, so the platform refuses it.
    transformIndexHtml: {
      order: 'pre',
      handler(html, context) {
        const names = [...new Set([...html.matchAll(HTML_ENV)].map((match) => match[0]))]
        if (names.length === 0) return html
        const file = relative(process.cwd(), context.filename)
        throw new Error(
          `${file} uses ${names.join(', ')}: Vite fills these in at build time, but the ` +
            `platform gives VITE_* values at run time (globalThis.${RUNTIME_GLOBAL}); ` +
            'read them from a script instead',
        )
      },
    },
  }
}

// Replacements never span or add a line break, so the source map is built by hand: on each line, one
// segment at the start, and one at each edit's start and end. Plain code, so the config needs
// nothing beyond `vite` itself, whatever version of Vite the clinic uses.
function applyEdits(code, id, edits) {
  edits.sort((a, b) => a[0] - b[0])
  let output = ''
  let from = 0
  const points = [] // [original offset, generated offset] where the mapping changes
  for (const [start, end, text] of edits) {
    output += code.slice(from, start)
    points.push([start, output.length])
    output += text
    points.push([end, output.length])
    from = end
  }
  output += code.slice(from)
  return { code: output, map: lineMap(code, id, points) }
}

function lineMap(code, id, points) {
  const lineStarts = [0]
  for (let i = 0; i < code.length; i++) if (code[i] === '\n') lineStarts.push(i + 1)
  const lines = []
  let shift = 0 // generated offset minus original offset, after the points seen so far
  let next = 0
  lineStarts.forEach((lineStart, line) => {
    const lineEnd = line + 1 < lineStarts.length ? lineStarts[line + 1] : code.length + 1
    const generatedLineStart = lineStart + shift
    const segments = [[0, 0]] // [generated column, original column]
    while (next < points.length && points[next][0] < lineEnd) {
      const [original, generated] = points[next]
      segments.push([generated - generatedLineStart, original - lineStart])
      shift = generated - original
      next++
    }
    lines.push(segments)
  })
  let previousOriginalLine = 0
  let previousOriginalColumn = 0
  const mappings = lines
    .map((segments, line) => {
      let previousGeneratedColumn = 0
      return segments
        .map(([generatedColumn, originalColumn]) => {
          const segment = vlq([
            generatedColumn - previousGeneratedColumn,
            0,
            line - previousOriginalLine,
            originalColumn - previousOriginalColumn,
          ])
          previousGeneratedColumn = generatedColumn
          previousOriginalLine = line
          previousOriginalColumn = originalColumn
          return segment
        })
        .join(',')
    })
    .join(';')
  return { version: 3, sources: [id.split('?', 1)[0]], sourcesContent: [code], names: [], mappings }
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'

function vlq(values) {
  let out = ''
  for (const value of values) {
    let rest = value < 0 ? (-value << 1) | 1 : value << 1
    do {
      let digit = rest & 31
      rest >>>= 5
      if (rest > 0) digit |= 32
      out += BASE64[digit]
    } while (rest > 0)
  }
  return out
}

async function clinicConfig(env) {
  const file = process.env.MIKO_CLINIC_VITE_CONFIG
  if (!file) return {}
  const loaded = await loadConfigFromFile(env, file)
  if (!loaded) throw new Error(`MIKO_CLINIC_VITE_CONFIG: no Vite config loaded from ${file}`)
  return loaded.config
}

export default async function platformConfig(env) {
  const clinic = await clinicConfig(env)
  const merged = mergeConfig(clinic, {
    build: { sourcemap: 'hidden', outDir: 'dist', assetsDir: 'assets', emptyOutDir: true },
  })
  // The rewrite runs first among the `pre` plugins, so no clinic plugin sees (or inlines)
  // `import.meta.env.VITE_*` before it.
  return { ...merged, plugins: [runtimeEnvPlugin(), ...(merged.plugins ?? [])] }
}
