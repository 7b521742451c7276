"""`certmate …` (also `python -m bot …`): parse the command line, load settings, dispatch.

Commands import their own stacks when they run, so `certmate inspect`
starts without loading the chat or database libraries.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from bot.config import ConfigError, Settings, load_settings

EXIT_USAGE = 1
_NOW = "(without an offset: in [reminders] timezone)"


class UsageError(Exception):
    """The command line is wrong; the message says how."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is ours to report (exit status 1, JSON when asked)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(allow_abbrev=False, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")


def _refuse_password_arguments(args: list[str]) -> None:
    """A password on the command line would sit in shell history and `ps`: refuse it unread.

    Checked before argparse, whose messages would repeat the offending value.
    """
    for arg in args:
        if arg.startswith("--pass") and arg != "--password-stdin":
            raise UsageError(
                "certmate: passwords are never taken on the command line; "
                "use --password-stdin and give it on standard input"
            )


def build_parser() -> argparse.ArgumentParser:
    config = _Parser(add_help=False)
    config.add_argument(
        "--config",
        type=Path,
        default=argparse.SUPPRESS,
        metavar="PATH",
        help="settings file (default: ./config.toml if present)",
    )
    parser = _Parser(
        prog="certmate",
        description="certmate: keeps Korean NPKI (공동인증서) certificates safe, "
        "reminds before they expire and guides renewal.",
        parents=[config],
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    inspect = commands.add_parser(
        "inspect",
        parents=[config],
        help="read certificate files, a zip or a PFX and print what they are",
        description="Read signCert.der/signPri.key files, a zip of an NPKI folder, "
        "a .pfx/.p12 or a PEM/DER certificate, and print what they are.",
    )
    inspect.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    inspect.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the certificate password from the first line of standard input",
    )
    inspect.add_argument("--json", action="store_true", help="one JSON object per certificate")
    inspect.add_argument(
        "--now",
        metavar="ISO8601",
        help="count days left from this moment instead of the clock",
    )
    chat = commands.add_parser(
        "chat",
        parents=[config],
        help="talk to certmate in the terminal (or play a script)",
        description="Talk to certmate in the terminal, with the same conversation and "
        "database as the chat channels: choices are numbered (type the number or the "
        "label), /upload PATH… sends files, passwords are read without echo. Ctrl-D or "
        "Ctrl-C ends it. With --script, play one user action per line and print the "
        "transcript as JSON lines.",
    )
    chat.add_argument("--script", metavar="FILE", help="one user action per line; JSON out")
    chat.add_argument("--user", default="console", help="the console user (default: console)")
    chat.add_argument(
        "--out", default=".", metavar="DIR", help="where documents the bot sends are written"
    )
    chat.add_argument("--now", metavar="ISO8601", help=f"run the session with this clock {_NOW}")

    commands.add_parser(
        "run",
        parents=[config],
        help="the main job: the chat channels, the secure page and reminders on schedule",
        description="The main job, until Ctrl-C or SIGTERM: the HTTP server (/healthz, "
        "/metrics, the secure page), Telegram when [telegram] token is set, KakaoTalk when "
        "[kakao] enabled, and the reminder sweep every [reminders] sweep_minutes. The log "
        "says which channels are on, and for each one off the setting that turns it on.",
    )
    remind = commands.add_parser(
        "remind",
        parents=[config],
        help="run one reminder sweep now (what the scheduler runs)",
        description="Run the reminder sweep `run` runs, once, and print what was sent "
        "(with --dry-run: what would be sent, sending nothing); one line when nothing was.",
    )
    remind.add_argument("--now", metavar="ISO8601", help=f"sweep as if it were this moment {_NOW}")
    remind.add_argument("--dry-run", action="store_true", help="show what would be sent")
    remind.add_argument("--json", action="store_true", help="one JSON object per reminder")

    status = commands.add_parser(
        "status",
        parents=[config],
        help="the cluster from the database: work and processes",
        description="Show the whole cluster, read from the database: schema revision, "
        "updates waiting and dead, reminders by status, and every process's roll call.",
    )
    status.add_argument("--json", action="store_true", help="one JSON object")

    database = commands.add_parser(
        "db",
        parents=[config],
        help="database maintenance",
        description="Database maintenance: apply migrations, or copy into another database.",
    )
    database_commands = database.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    database_commands.add_parser(
        "upgrade",
        parents=[config],
        help="apply pending migrations (run does this at start)",
        description="Apply pending migrations to [database] url and print the revision "
        "(run, chat and remind do this at start too).",
    )
    copy = database_commands.add_parser(
        "copy",
        parents=[config],
        help="copy every row into another database, e.g. PostgreSQL (resumable, verified)",
        description="Copy every row of [database] url into the database at --to (e.g. "
        "PostgreSQL), in batches; a stopped copy resumes, and the copy is verified.",
    )
    copy.add_argument("--to", required=True, metavar="URL", help="the database to copy into")
    copy.add_argument(
        "--batch-size", type=_positive, default=1_000, help="rows copied per transaction"
    )

    keys = commands.add_parser(
        "keys",
        parents=[config],
        help="master key maintenance",
        description="Master key maintenance.",
    )
    keys_commands = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    rotate = keys_commands.add_parser(
        "rotate",
        parents=[config],
        help="make a new master key and re-wrap every data key with it (resumable)",
        description="Make a new master key and re-wrap every data key with it; a stopped "
        "rotation resumes where it was.",
    )
    rotate.add_argument(
        "--batch-size", type=_positive, default=500, help="records moved per transaction"
    )
    rotate.add_argument(
        "--reencrypt",
        action="store_true",
        help="also give every record a new data key and new ciphertext "
        "(after a database copy and a key leaked together)",
    )
    return parser


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        _refuse_password_arguments(args_list)
        args = build_parser().parse_args(args_list)
        settings = _settings(args)
    except UsageError as err:
        return _usage_failure(str(err), json_output="--json" in args_list)
    # Commands import their stacks lazily: `inspect` must not load the database one.
    if args.command == "inspect":
        from bot.inspect_cmd import run_inspect  # noqa: PLC0415

        return run_inspect(args, settings)
    if args.command == "run":
        from bot.run_cmd import run_main  # noqa: PLC0415

        return run_main(args, settings)
    if args.command == "remind":
        from bot.remind_cmd import run_remind  # noqa: PLC0415

        return run_remind(args, settings)
    if args.command == "chat":
        from bot.chat_cmd import run_chat  # noqa: PLC0415

        return run_chat(args, settings)
    from bot import storage_cmd  # noqa: PLC0415

    if args.command == "status":
        from bot.status_cmd import run_status  # noqa: PLC0415

        return run_status(args, settings)
    if args.command == "db" and args.db_command == "copy":
        from bot.copy_cmd import run_db_copy  # noqa: PLC0415

        return run_db_copy(args, settings)
    if args.command == "db":
        return storage_cmd.run_db_upgrade(args, settings)
    return storage_cmd.run_keys_rotate(args, settings)


def _settings(args: argparse.Namespace) -> Settings:
    try:
        return load_settings(getattr(args, "config", None), os.environ)
    except ConfigError as err:
        raise UsageError(f"certmate: configuration: {err}") from err


def _usage_failure(message: str, *, json_output: bool) -> int:
    print(message, file=sys.stderr)  # noqa: T201
    if json_output:
        import json  # noqa: PLC0415

        print(json.dumps({"error": "usage", "message": message}, ensure_ascii=False))  # noqa: T201
    return EXIT_USAGE


def entry_point() -> None:
    """The `certmate` console script."""
    sys.exit(main())
