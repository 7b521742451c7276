"""`certmate chat`: talk to the assistant in the terminal, or play a script (JSON transcript).

A line is read in the main thread, between the event loop's turns (`bot.terminal`), so
Ctrl-C stops the command at once wherever it is (at a prompt, at the password prompt,
while certmate answers): one line says so, the database is closed, and the exit status
is 130.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
from datetime import datetime
from pathlib import Path
from typing import Final

from bot.app import (
    build_assistant,
    build_services,
    checked_keyring,
    clock_from,
    open_database,
    parse_now,
)
from bot.channels.console import (
    MASK,
    ConsoleUser,
    ScriptError,
    masked_echo,
    render,
    run_script,
)
from bot.config import Settings
from bot.terminal import Terminal
from storage import migrate
from storage.database import Database
from storage.keyring import KeyFileError

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_INTERRUPTED: Final = 130
"""128 + SIGINT, as shells report a command stopped with Ctrl-C."""


def run_chat(args: argparse.Namespace, settings: Settings) -> int:
    try:
        start = parse_now(args.now, settings.reminders.timezone) if args.now else None
    except ValueError:
        print(f"certmate chat: --now {args.now!r} is not an ISO 8601 time", file=sys.stderr)  # noqa: T201
        return EXIT_FAILED
    try:
        with asyncio.Runner() as runner:
            _chat(runner, args, settings, start)
    except KeyboardInterrupt:
        print("\ncertmate chat: stopped (Ctrl-C)", file=sys.stderr)  # noqa: T201
        return EXIT_INTERRUPTED
    except (KeyFileError, ScriptError, OSError) as err:
        print(f"certmate chat: {err}", file=sys.stderr)  # noqa: T201
        return EXIT_FAILED
    return EXIT_OK


def _chat(
    runner: asyncio.Runner, args: argparse.Namespace, settings: Settings, start: datetime | None
) -> None:
    database = open_database(settings)
    try:
        user = runner.run(_console_user(args, settings, database, start))
        if args.script is not None:
            runner.run(_play(user, Path(args.script)))
        else:
            _interactive(runner, user)
    finally:
        runner.run(database.close())


async def _console_user(
    args: argparse.Namespace, settings: Settings, database: Database, start: datetime | None
) -> ConsoleUser:
    await migrate.upgrade(database)
    keyring = await checked_keyring(settings, database)
    assistant = build_assistant(build_services(settings, database, clock_from(start), keyring))
    return ConsoleUser(
        assistant.handle,
        args.user,
        Path(args.out),
        settings.limits.upload_bytes,
        interactive=args.script is None,
    )


async def _play(user: ConsoleUser, script: Path) -> None:
    lines = await asyncio.to_thread(script.read_text, encoding="utf-8")
    await run_script(user, lines.splitlines(), sys.stdout)


def _interactive(runner: asyncio.Runner, user: ConsoleUser) -> None:
    """Read a line (here, in the main thread: Ctrl-C interrupts the read itself), let the
    event loop answer it, print the answer; until end of input (Ctrl-D)."""
    print("certmate — /start 로 시작, /help 도움말, Ctrl-D 로 끝내기")  # noqa: T201
    print("(numbers press buttons; /upload PATH… sends files)\n")  # noqa: T201
    with Terminal() as terminal:
        while True:
            secret = user.expects_secret
            prompt = "비밀번호 / password: " if secret else "> "
            try:
                line = terminal.read(prompt, secret=secret)
            except EOFError:
                return
            if not line.strip():
                continue
            try:
                entry, outbound = runner.run(user.send_line(line))
            except ScriptError as err:
                print(f"  ! {err}")  # noqa: T201
                continue
            if entry.get("text") == MASK and not secret and sys.stdout.isatty():
                columns = shutil.get_terminal_size().columns
                print(masked_echo(prompt, line, columns))  # noqa: T201
            print(render(user, outbound))  # noqa: T201
