"""The HTTP/1.1 connection layer under the ASGI app: uvicorn's httptools protocol, bounded."""
