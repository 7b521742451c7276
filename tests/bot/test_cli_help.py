"""`certmate … --help` as a user runs it: every command says what it does."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Iterator

import pytest

from bot.cli import build_parser
from tests.bot.test_chat_cli import _environment


def _commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every command and sub-command of `parser`, with its words on the command line."""
    for action in parser._actions:  # argparse lists sub-commands nowhere public
        if isinstance(action, argparse._SubParsersAction):
            for name, command in action.choices.items():
                yield (*path, name), command
                yield from _commands(command, (*path, name))


COMMANDS = dict(_commands(build_parser()))


def _help(*words: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "bot", *words, "--help"],
        env=_environment() | {"COLUMNS": "100"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_every_command_is_listed() -> None:
    """The walk below sees every command (so a new one cannot slip past the help test)."""
    assert set(COMMANDS) >= {
        ("inspect",), ("chat",), ("run",), ("remind",), ("status",),
        ("db",), ("db", "upgrade"), ("db", "copy"), ("keys",), ("keys", "rotate"),
    }  # fmt: skip


@pytest.mark.parametrize("words", sorted(COMMANDS), ids=" ".join)
def test_every_command_help_has_a_description(words: tuple[str, ...]) -> None:
    """`certmate <command> --help` has a paragraph saying what the command does between
    its usage and its options."""
    paragraphs = _help(*words).split("\n\n")
    assert paragraphs[0].startswith(f"usage: certmate {' '.join(words)}")
    description = " ".join(paragraphs[1].split())
    assert not description.startswith(("positional arguments:", "options:")), paragraphs
    assert description == " ".join((COMMANDS[words].description or "").split())


def test_run_help_says_what_run_does_now() -> None:
    """`run` is described by what it runs today, never "as they are built"."""
    for words in ((), ("run",)):
        text = _help(*words)
        assert "as they are built" not in text
    assert "Telegram when [telegram] token is set" in " ".join(_help("run").split())
