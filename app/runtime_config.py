"""The SPA's runtime configuration: the script that sets it, and the tag that loads it.

The SPA is built once and promoted from staging to prod, so the values its
`import.meta.env.VITE_*` reads see cannot be baked in at build time. The platform's Vite settings
(app/frontend/platform.vite.config.mjs) turn each such read into `globalThis.__MIKO_ENV__.VITE_*`;
this module serves that object as a script built from the service's own settings, and puts a tag
loading it at the top of every HTML page, before the app's own scripts run. A separate script,
not an inline one, so the Content-Security-Policy needs no hash or `'unsafe-inline'` for it.
The response is `no-store`: after a rotation (config change, rolling deploy) the next page load
sees the new value, and neither the edge nor a browser keeps the old one.
"""

import json
import re
from collections.abc import Mapping

from starlette.types import Receive, Scope, Send

from app.contract import RUNTIME_CONFIG_GLOBAL, RUNTIME_CONFIG_PATH

SCRIPT_TAG = f'<script src="{RUNTIME_CONFIG_PATH}"></script>'.encode()
HEAD_OPEN = re.compile(rb"<head(?:\s[^>]*)?>", re.IGNORECASE)
FIRST_SCRIPT = re.compile(rb"<script[\s>]", re.IGNORECASE)


def runtime_config_script(config: Mapping[str, str]) -> bytes:
    """`globalThis.__MIKO_ENV__ = Object.freeze({...});` with the values as JSON.

    `ensure_ascii` escapes every non-ASCII character (U+2028 and U+2029 included), so no value
    can end the statement or the script early.
    """
    document = json.dumps(dict(config), ensure_ascii=True, sort_keys=True)
    return f"globalThis.{RUNTIME_CONFIG_GLOBAL} = Object.freeze({document});\n".encode()


def with_runtime_config_tag(html: bytes) -> bytes:
    """The page with the runtime-config script tag right after `<head>` (or before its first
    script when it has no head), once: a page that already loads it is returned unchanged."""
    if SCRIPT_TAG in html:
        return html
    head = HEAD_OPEN.search(html)
    if head is not None:
        return html[: head.end()] + SCRIPT_TAG + html[head.end() :]
    script = FIRST_SCRIPT.search(html)
    at = script.start() if script is not None else 0
    return html[:at] + SCRIPT_TAG + html[at:]


class RuntimeConfigEndpoint:
    """GET/HEAD of the runtime-config script; the router answers other methods."""

    def __init__(self, config: Mapping[str, str]) -> None:
        self.body = runtime_config_script(config)
        self.headers = (
            (b"content-type", b"text/javascript; charset=utf-8"),
            (b"content-length", str(len(self.body)).encode()),
            (b"cache-control", b"no-store"),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.headers})
        body = b"" if scope["method"] == "HEAD" else self.body
        await send({"type": "http.response.body", "body": body})
