"""Serving the web UI: uvicorn, in one process or several sharing one listening socket."""

from __future__ import annotations

import socket

import uvicorn
from uvicorn.supervisors import Multiprocess

APP = "pipeline.web.app:app_from_environment"


class _TcpConfig(uvicorn.Config):
    """uvicorn makes the listener it shares between worker processes with protocol 0, and
    asyncio then leaves Nagle's algorithm on for every accepted connection: each keep-alive
    request after the first waits ~40 ms on the browser's delayed ACK (uvicorn issue #3149,
    measured here: 44 ms instead of 1.3 ms per request). Re-wrapping the descriptor lets
    Python read the real protocol (TCP) from the kernel, so asyncio sets TCP_NODELAY."""

    def bind_socket(self) -> socket.socket:
        sock = super().bind_socket()
        if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.proto == 0:
            sock = socket.socket(fileno=sock.detach())  # family, type and proto from the descriptor
            sock.set_inheritable(True)
        return sock


def serve(host: str, port: int, workers: int, trusted_proxies: tuple[str, ...] = ()) -> None:
    """Run the web UI until SIGINT/SIGTERM; ``workers`` > 1: that many processes."""
    from pipeline.logs import uvicorn_log_config

    # X-Forwarded-For is believed only from the configured proxies (none by default): the
    # sign-in throttle counts per client address, and a client must not choose its own.
    config = _TcpConfig(APP, factory=True, host=host, port=port, workers=workers, log_level="info",
                        log_config=uvicorn_log_config(), proxy_headers=bool(trusted_proxies),
                        forwarded_allow_ips=",".join(trusted_proxies) or None)
    if workers > 1:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
    else:
        uvicorn.Server(config).run()
