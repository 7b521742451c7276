"""`certmate chat` at a terminal (a pseudo-terminal here): a deleted line does not stay."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

from tests.bot.test_chat_cli import _environment

LATE_PASSWORD = "late-password-4Fz!"  # noqa: S105  (a test password)


def _read_until(fd: int, marker: bytes, seen: bytearray, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    start = len(seen)
    while marker not in seen[start:]:
        left = deadline - time.monotonic()
        assert left > 0, f"no {marker!r} in {bytes(seen[start:])!r}"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            seen += os.read(fd, 4096)


def test_a_password_typed_when_none_was_asked_is_rubbed_out(tmp_path: Path) -> None:
    """After a file certmate cannot read, the user types their password at the ordinary
    prompt (so the terminal echoes it): once the bot deletes it, the row is erased and
    rewritten masked."""
    broken = tmp_path / "signCert.der"
    broken.write_bytes(b"not a certificate")
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "chat"],
        cwd=tmp_path,
        env=_environment(),
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
    )
    os.close(terminal)
    seen = bytearray()
    try:
        _read_until(controller, b"> ", seen)
        os.write(controller, f"/upload {broken}\n".encode())
        _read_until(controller, "파일을 열 수 없어요".encode(), seen)
        _read_until(controller, b"> ", seen)
        os.write(controller, f"{LATE_PASSWORD}\n".encode())
        _read_until(controller, "비밀번호처럼 보여서".encode(), seen)
        os.write(controller, b"\x04")
        process.wait(timeout=60)
    finally:
        process.kill()
        os.close(controller)
    after_echo = bytes(seen).split(LATE_PASSWORD.encode(), 1)[1]
    assert LATE_PASSWORD.encode() not in after_echo  # echoed once, by the terminal only
    assert after_echo.lstrip(b"\r\n").startswith("\x1b[1A\x1b[2K> ••••••".encode())
