"""What one worker allows a client connection: sizes, timeouts and how many connections at once.

- `max_head_bytes` (16 KiB): the request line and header fields together. Node's default; the
  edge passes up to 32 KB and the load balancer 64 KB, so a larger head is refused here (431)
  rather than by a proxy with a different error page. The SPA's requests carry a few hundred
  bytes; the proxies add about 1 KB.
- `header_timeout` (10 s): from the first byte of a request (or from the connection's opening)
  until its head is complete. The load balancer and the edge forward a head in one piece, so
  only a client trickling bytes (slowloris) or holding a connection without a request hits it.
  A connection that never sent a byte is closed silently; a partial request is answered 408.
- `body_timeout` (30 s): from the end of the head until the end of the body. Bodies are small
  (MAX_BODY_BYTES, 256 KB by default) and the edge buffers them.
- `max_connections`: open connections per worker. Every connection is a file descriptor; when
  the process runs out of them, `accept` fails and /health stops answering. The cap therefore
  comes from the process's descriptor limit (Fargate's default is 65535; the launcher lifts the
  soft limit to the hard one), less FD_RESERVE for what the worker opens itself (listening
  socket, stdio, event loop, outbound HTTP and database connections, metric files: about 16 at
  rest) and less a headroom for connections the event loop may accept in one burst before the
  cap is applied: the listen BACKLOG, or half of what is left where descriptors are scarce
  (measured bursts were two or three connections). MAX_CONNECTIONS bounds it where descriptors
  are plentiful, for memory: a connection costs about 6 KB idle and 23 KB with a nearly full
  head buffered (measured), so 1024 of them keep a worker within the 120 MB RSS target. At the
  cap, a new connection closes the connection that has waited longest without a request in the
  app (idle keep-alive, a head or body still arriving); only when every connection is busy in
  the app is the new one refused (closed unanswered).
- BACKLOG (1024): the kernel's queue of connections not yet accepted. Queued connections cost
  the process no descriptor, and a deep queue lets a burst of connections (a flood, or the load
  balancer opening many at once) wait for `accept` instead of having SYNs dropped, which costs a
  legitimate client a one-second retransmission.
"""

import resource
from dataclasses import dataclass

MAX_HEAD_BYTES = 16 * 1024
HEADER_TIMEOUT_SECONDS = 10.0
BODY_TIMEOUT_SECONDS = 30.0
LINGER_SECONDS = 2.0
"""After an error response: how long the rest of a request is read and discarded before the
connection closes, so the response is not lost to a TCP reset (nginx's lingering close)."""

BACKLOG = 1024
FD_RESERVE = 64
MAX_CONNECTIONS = 1024
MIN_CONNECTIONS = 16


@dataclass(frozen=True)
class ConnectionLimits:
    max_head_bytes: int = MAX_HEAD_BYTES
    header_timeout: float = HEADER_TIMEOUT_SECONDS
    body_timeout: float = BODY_TIMEOUT_SECONDS
    max_connections: int = MAX_CONNECTIONS
    linger: float = LINGER_SECONDS


def burst_headroom(descriptor_limit: int, backlog: int = BACKLOG) -> int:
    """Descriptors kept free for connections accepted in one burst, before the cap applies."""
    return max(0, min(backlog, (descriptor_limit - FD_RESERVE) // 2))


def connection_cap(descriptor_limit: int, backlog: int = BACKLOG) -> int:
    """Connections one worker keeps open with `descriptor_limit` file descriptors."""
    free = descriptor_limit - FD_RESERVE - burst_headroom(descriptor_limit, backlog)
    return max(MIN_CONNECTIONS, min(MAX_CONNECTIONS, free))


def descriptor_limit() -> int:
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else MAX_CONNECTIONS + FD_RESERVE + BACKLOG


def raise_descriptor_limit() -> int:
    """Lift this process's soft descriptor limit to its hard limit (inherited by the workers)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 65_536)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError):
            return soft
        return wanted
    return soft


def default_limits() -> ConnectionLimits:
    return ConnectionLimits(max_connections=connection_cap(descriptor_limit()))
