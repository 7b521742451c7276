"""Typed button actions: what a button means, declared by the flow it belongs to.

A button carries one `Action`: a frozen dataclass whose class names its flow
and verb and whose fields are its parameters, in the manner of aiogram's
`CallbackData`. It is packed as `"<flow>:<verb>"` and a JSON object into a
server-side token (`storage.buttons`: owner-bound, expiring; the chat app
sees only the token) and unpacked, checked field by field, when pressed.
Flows and the engine use the classes, never the strings, so renaming or
removing an action is a `mypy` error at every button that sends it; a token
left over from a removed action unpacks to nothing and is answered as an
expired button.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any, ClassVar

from pydantic import TypeAdapter, ValidationError

from storage import buttons


@dataclasses.dataclass(frozen=True, slots=True)
class Action:
    """A button's meaning. Each subclass is a frozen dataclass that sets `flow` and
    `verb`; its fields are the button's parameters."""

    flow: ClassVar[str]
    verb: ClassVar[str]
    restarts: ClassVar[bool] = False
    """Pressed while the user is in the same flow, the flow starts over (an entry
    button) rather than resuming the step."""

    @classmethod
    def name(cls) -> str:
        """The stored name, `"<flow>:<verb>"` (kept stable: issued buttons outlive releases)."""
        return f"{cls.flow}:{cls.verb}"

    def pack(self) -> buttons.Action:
        return buttons.Action(self.name(), dataclasses.asdict(self))


class Actions:
    """Every action the flows declare, to unpack a pressed button's stored action."""

    def __init__(self, kinds: Iterable[type[Action]]) -> None:
        self._by_name: dict[str, TypeAdapter[Any]] = {}
        for kind in kinds:
            name = kind.name()
            if name in self._by_name:
                raise ValueError(f"two actions are named {name}")
            self._by_name[name] = TypeAdapter(kind)

    def unpack(self, stored: buttons.Action) -> Action | None:
        """The typed action, or None when no flow declares it any more or its stored
        fields no longer fit (a token from an older release)."""
        adapter = self._by_name.get(stored.name)
        if adapter is None:
            return None
        try:
            value = adapter.validate_python(dict(stored.payload))
        except ValidationError:
            return None
        assert isinstance(value, Action)  # noqa: S101  (the adapter was built for one)
        return value
