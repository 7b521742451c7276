"""The flows as the engine routes them: by command, word, action and page, built from specs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from handlers.actions import Action, Actions
from handlers.flow import FlowSpec
from handlers.i18n import Catalog, typed_word
from storage.links import Purpose

CANCEL: Final = "cancel"
"""The one command the engine answers itself: it ends any flow."""
ENGINE_WORDS: Final = {CANCEL: "words.cancel"}
"""Words the engine itself understands, by the command they mean (text keys)."""


class Flows:
    """Every flow's spec, indexed for routing."""

    def __init__(self, specs: Iterable[FlowSpec], catalog: Catalog) -> None:
        self.specs = tuple(specs)
        self.by_name: Mapping[str, FlowSpec] = _unique(self.specs)
        self.commands: Mapping[str, FlowSpec] = {
            command: spec for spec in self.specs for command in spec.commands
        }
        self.actions = Actions(kind for spec in self.specs for kind in spec.actions)
        self.page: Mapping[Purpose, FlowSpec] = {
            spec.page: spec for spec in self.specs if spec.page is not None
        }
        self.takes_files = next((spec for spec in self.specs if spec.takes_files), None)
        self.menu: tuple[tuple[str, Action], ...] = tuple(
            (spec.menu.label, spec.menu.action) for spec in self.specs if spec.menu
        )
        self._words = _words(self.specs, catalog)

    def resumes(self, flow: str, step: str) -> bool:
        """A saved (flow, step) is one a flow declares: it can be resumed."""
        spec = self.by_name.get(flow)
        return spec is not None and step in spec.steps

    def command_of_word(self, text: str) -> str | None:
        """The command a message means when it is one of the flows' words alone
        ("등록", "help") or a menu button's label, in any language the assistant speaks."""
        return self._words.get(typed_word(text))

    def command_menu(self, catalog: Catalog, locale: str) -> list[tuple[str, str]]:
        """(command without the slash, its description in `locale`), in menu order, for
        chat apps with a command menu beside the text box."""
        texts = catalog.texts(locale)
        listed = [
            (spec.commands[0], texts(spec.described_as))
            for spec in self.specs
            if spec.described_as and spec.commands
        ]
        return [*listed, (CANCEL, texts("command.cancel"))]


def _unique(specs: tuple[FlowSpec, ...]) -> dict[str, FlowSpec]:
    by_name: dict[str, FlowSpec] = {}
    for spec in specs:
        if spec.name in by_name:
            raise ValueError(f"two flows are named {spec.name}")
        by_name[spec.name] = spec
    return by_name


def _words(specs: tuple[FlowSpec, ...], catalog: Catalog) -> dict[str, str]:
    """Every word, in every language, and the command it means. Two flows claiming one
    word is a mistake in the catalogs, refused at start."""
    keys = list(ENGINE_WORDS.items())
    for spec in specs:
        if spec.commands:
            keys += [(spec.commands[0], key) for key in (spec.words,) if key]
            if spec.menu:  # a menu button's label, typed, means what pressing it does
                keys.append((spec.commands[0], spec.menu.label))
    words: dict[str, str] = {}
    for command, key in keys:
        for word in catalog.words(key):
            if words.setdefault(word, command) != command:
                raise ValueError(f"{word!r} means both /{words[word]} and /{command}")
    return words
