"""Plain ASGI middleware: each wraps `send` or `receive` and allocates as little as it can."""
