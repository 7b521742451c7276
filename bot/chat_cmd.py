"""`certmate chat`: talk to the assistant in the terminal, or play a script (JSON transcript)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import shutil
import sys
from datetime import datetime
from pathlib import Path

from bot.app import (
    build_assistant,
    build_services,
    checked_keyring,
    clock_from,
    open_database,
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
from storage import migrate
from storage.keyring import KeyFileError

EXIT_OK = 0
EXIT_FAILED = 1


def run_chat(args: argparse.Namespace, settings: Settings) -> int:
    try:
        start = datetime.fromisoformat(args.now) if args.now else None
    except ValueError:
        print(f"certmate chat: --now {args.now!r} is not an ISO 8601 time", file=sys.stderr)  # noqa: T201
        return EXIT_FAILED
    try:
        return asyncio.run(_chat(args, settings, start))
    except (KeyFileError, ScriptError, OSError) as err:
        print(f"certmate chat: {err}", file=sys.stderr)  # noqa: T201
        return EXIT_FAILED


async def _chat(args: argparse.Namespace, settings: Settings, start: datetime | None) -> int:
    database = open_database(settings)
    try:
        await migrate.upgrade(database)
        keyring = await checked_keyring(settings, database)
        assistant = build_assistant(build_services(settings, database, clock_from(start), keyring))
        user = ConsoleUser(
            assistant.handle,
            args.user,
            Path(args.out),
            settings.limits.upload_bytes,
            interactive=args.script is None,
        )
        if args.script is not None:
            script = await asyncio.to_thread(Path(args.script).read_text, encoding="utf-8")
            await run_script(user, script.splitlines(), sys.stdout)
        else:
            await _interactive(user)
        assistant.services.worker.close()
    finally:
        await database.close()
    return EXIT_OK


async def _interactive(user: ConsoleUser) -> None:
    print("certmate — /start 로 시작, /help 도움말, Ctrl-D 로 끝내기")  # noqa: T201
    print("(numbers press buttons; /upload PATH… sends files)\n")  # noqa: T201
    while True:
        prompt = "비밀번호 / password: " if user.expects_secret else "> "
        reader = getpass.getpass if user.expects_secret else input
        try:
            line = await asyncio.to_thread(reader, prompt)
        except EOFError:
            return
        if not line.strip():
            continue
        try:
            entry, outbound = await user.send_line(line)
        except ScriptError as err:
            print(f"  ! {err}")  # noqa: T201
            continue
        if entry.get("text") == MASK and reader is input and sys.stdout.isatty():
            columns = shutil.get_terminal_size().columns
            print(masked_echo(prompt, line, columns))  # noqa: T201
        print(render(user, outbound))  # noqa: T201
