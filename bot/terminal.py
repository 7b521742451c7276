"""Lines typed at the terminal for `certmate chat`, read so that Ctrl-C is never lost.

`input()` and `getpass()` miss a Ctrl-C that arrives after their prompt is written but
before their read starts: the signal is noted, the read then blocks, and the command
goes on waiting for Enter. Here the signal handler also writes to a wakeup pipe (see
`signal.set_wakeup_fd`) that the read waits on beside standard input, so the pending
`KeyboardInterrupt` is raised at once, whenever the key was pressed.

A password is read from the same standard input with the terminal's echo off, and the
echo is given back whatever happens (Ctrl-C included).
"""

from __future__ import annotations

import os
import select
import signal
import sys
import termios
from types import TracebackType
from typing import Final, TextIO

_CHUNK: Final = 4096


class Terminal:
    """Reads lines from standard input (a terminal, or a pipe) and writes prompts."""

    def __init__(self, stdin: TextIO | None = None, stdout: TextIO | None = None) -> None:
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self._pending = b""
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        self._previous = -1

    def __enter__(self) -> Terminal:
        self._previous = signal.set_wakeup_fd(self._wake_write)  # the main thread's
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        signal.set_wakeup_fd(self._previous)
        os.close(self._wake_read)
        os.close(self._wake_write)

    def read(self, prompt: str, *, secret: bool = False) -> str:
        """Write `prompt`, return the next line without its line ending (EOFError at the
        end of input). `secret`: the terminal does not show what is typed."""
        fd = self.stdin.fileno()
        hidden = termios.tcgetattr(fd) if secret and os.isatty(fd) else None
        if hidden is not None:
            quiet = hidden[:]
            quiet[3] &= ~termios.ECHO  # 3: the local modes
            termios.tcsetattr(fd, termios.TCSADRAIN, quiet)
        try:
            self.stdout.write(prompt)
            self.stdout.flush()
            return self._line(fd)
        finally:
            if hidden is not None:
                termios.tcsetattr(fd, termios.TCSADRAIN, hidden)
                self.stdout.write("\n")  # the Enter that was not echoed
                self.stdout.flush()

    def _line(self, fd: int) -> str:
        while b"\n" not in self._pending:
            self._wait(fd)
            chunk = os.read(fd, _CHUNK)
            if not chunk:  # end of input (Ctrl-D at the start of a line)
                if not self._pending:
                    raise EOFError
                break
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        return line.decode(errors="replace").rstrip("\r")

    def _wait(self, fd: int) -> None:
        """Until `fd` can be read. A signal wakes the pipe; its handler (Ctrl-C:
        KeyboardInterrupt) runs as soon as this returns to Python code."""
        while True:
            ready, _, _ = select.select([fd, self._wake_read], [], [])
            if self._wake_read in ready:
                self._drain()
            if fd in ready:
                return

    def _drain(self) -> None:
        try:
            while os.read(self._wake_read, _CHUNK):
                pass
        except BlockingIOError:
            pass
