"""A real HAProxy (Debian's) on 127.0.0.1 in front of several local backends.

The multi-process tests put `certmate run` processes behind it exactly as an
operator would: round robin, health checks on `/healthz`, a backend that stops
answering taken out of rotation. `make test` installs HAProxy; without it these
tests fail, never skip.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import time
from collections.abc import Sequence
from pathlib import Path

HAPROXY = "/usr/sbin/haproxy"


def _config(port: int, backends: Sequence[int]) -> str:
    servers = "\n".join(
        f"    server p{number} 127.0.0.1:{backend} check inter 500ms fall 2 rise 1"
        for number, backend in enumerate(backends)
    )
    return f"""global
    maxconn 2000

defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    retries 2
    option redispatch
    option forwardfor

frontend certmate
    bind 127.0.0.1:{port}
    default_backend runs

backend runs
    balance roundrobin
    option httpchk GET /healthz
{servers}
"""


class Balancer:
    """HAProxy listening on `port`, spreading requests over `backends` (local ports)."""

    def __init__(self, folder: Path, backends: Sequence[int]) -> None:
        self.folder = folder
        self.backends = list(backends)
        self.port = _free_port()
        self._process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> Balancer:
        binary = shutil.which("haproxy") or HAPROXY
        config = self.folder / "haproxy.cfg"
        config.write_text(_config(self.port, self.backends), encoding="utf-8")
        self._process = await asyncio.create_subprocess_exec(
            binary, "-db", "-f", str(config),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not _listening(self.port):
            if self._process.returncode is not None:
                _out, err = await self._process.communicate()
                raise RuntimeError(f"haproxy did not start: {err.decode()[-500:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("haproxy did not listen within 10 s")
            await asyncio.sleep(0.05)
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._process is not None and self._process.returncode is None:
            self._process.terminate()
            try:
                await asyncio.wait_for(self._process.wait(), 5)
            except TimeoutError:
                self._process.kill()
                await self._process.wait()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0
