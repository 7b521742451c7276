"""`certmate chat` at a terminal (a pseudo-terminal here): a deleted line does not stay,
and Ctrl-C stops it at once."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import subprocess
import sys
import termios
import time
from pathlib import Path

from tests.bot.test_chat_cli import _environment
from tests.conftest import Holder

LATE_PASSWORD = "late-password-4Fz!"  # noqa: S105  (a test password)


def _read_until(
    fd: int, marker: bytes, seen: bytearray, timeout: float = 60, *, since: int | None = None
) -> int:
    """Read into `seen` until `marker` shows up after position `since` (default: what was
    seen before this call); returns the position just past it."""
    deadline = time.monotonic() + timeout
    start = len(seen) if since is None else since
    while (found := seen.find(marker, start)) < 0:
        left = deadline - time.monotonic()
        assert left > 0, f"no {marker!r} in {bytes(seen[start:])!r}"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            seen += os.read(fd, 4096)
    return found + len(marker)


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
        said = _read_until(controller, "파일을 열 수 없어요".encode(), seen)
        _read_until(controller, b"> ", seen, since=said)  # may have come in the same read
        os.write(controller, f"{LATE_PASSWORD}\n".encode())
        _read_until(controller, "비밀번호처럼 보여서".encode(), seen)
        os.write(controller, b"\x04")
        process.wait(timeout=60)
    finally:
        process.kill()
        process.wait()
        os.close(controller)
    after_echo = bytes(seen).split(LATE_PASSWORD.encode(), 1)[1]
    assert LATE_PASSWORD.encode() not in after_echo  # echoed once, by the terminal only
    assert after_echo.lstrip(b"\r\n").startswith("\x1b[1A\x1b[2K> ••••••".encode())


def _start_on_a_terminal(folder: Path) -> tuple[subprocess.Popen[bytes], int, int]:
    """`certmate chat` with a pseudo-terminal as its controlling terminal (so the keys
    typed there, Ctrl-C included, act as at a real one). Returns the process, the
    terminal's controller side, and a handle on its own side to read its settings."""
    controller, terminal = pty.openpty()

    def take_terminal() -> None:  # in the child, a session leader: the pty is its terminal
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "chat"],
        cwd=folder,
        env=_environment() | {"PYTHONFAULTHANDLER": "1"},
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        start_new_session=True,
        preexec_fn=take_terminal,  # noqa: PLW1509  (no threads in this test process use it)
    )
    kept = os.dup(terminal)
    os.close(terminal)
    return process, controller, kept


def _stopped_by_ctrl_c(process: subprocess.Popen[bytes], controller: int, seen: bytearray) -> str:
    """Press Ctrl-C; the process must end within 5 seconds. Returns what it wrote after."""
    mark = len(seen)
    os.write(controller, b"\x03")
    started = time.monotonic()
    try:
        code: int | None = process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        code = None
        process.send_signal(signal.SIGABRT)  # PYTHONFAULTHANDLER: where it hangs, said
        process.wait()
    _drain(controller, seen)
    after = bytes(seen[mark:]).decode(errors="replace")
    assert code is not None, f"still running 5 s after Ctrl-C; then it said: {after}"
    assert time.monotonic() - started < 5
    assert code == 130, after
    return after


def _drain(controller: int, seen: bytearray) -> None:
    """Read what is left on the terminal (it closes when the process is gone)."""
    while select.select([controller], [], [], 0.2)[0]:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the terminal closed with the process
            return
        if not chunk:
            return
        seen += chunk


def _one_line(after: str) -> None:
    assert "Traceback" not in after
    lines = [line.strip() for line in after.replace("^C", "").splitlines() if line.strip()]
    assert lines == ["certmate chat: stopped (Ctrl-C)"]


def test_ctrl_c_at_the_prompt_stops_at_once_with_one_line(tmp_path: Path) -> None:
    """Ctrl-C at the `> ` prompt ends `certmate chat` at once (exit status 130) with one
    line saying so, no traceback."""
    process, controller, kept = _start_on_a_terminal(tmp_path)
    seen = bytearray()
    try:
        _read_until(controller, b"> ", seen)
        _one_line(_stopped_by_ctrl_c(process, controller, seen))
    finally:
        process.kill()
        process.wait()
        os.close(controller)
        os.close(kept)


def test_ctrl_c_at_the_password_prompt_stops_at_once_and_gives_the_echo_back(
    tmp_path: Path, holder: Holder, seed_key: bytes
) -> None:
    """Ctrl-C while certmate reads a password without echo ends it at once, with one line,
    and the terminal echoes typed keys again afterwards."""
    (tmp_path / "signCert.der").write_bytes(holder.cert_der)
    (tmp_path / "signPri.key").write_bytes(seed_key)
    process, controller, kept = _start_on_a_terminal(tmp_path)
    seen = bytearray()
    try:
        _read_until(controller, b"> ", seen)
        os.write(controller, b"/upload signCert.der signPri.key\n")
        _read_until(controller, "인증서 비밀번호를 입력해 주세요".encode(), seen)
        _read_until(controller, b"password: ", seen, since=0)
        assert not termios.tcgetattr(kept)[3] & termios.ECHO  # reading without echo
        _one_line(_stopped_by_ctrl_c(process, controller, seen))
        assert termios.tcgetattr(kept)[3] & termios.ECHO
    finally:
        process.kill()
        process.wait()
        os.close(controller)
        os.close(kept)
