"""config.example.toml documents every setting, with the real defaults."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

from bot.config import Settings, load_settings

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"


def test_example_loads_to_the_defaults() -> None:
    """The example file is valid and changes nothing: its values are the defaults."""
    assert load_settings(EXAMPLE, {}) == Settings()


def test_example_lists_every_key() -> None:
    """Each field of each section appears in the example, and nothing else does."""
    documented = tomllib.loads(EXAMPLE.read_text())
    settings = Settings()
    expected = {
        section.name: {f.name for f in dataclasses.fields(getattr(settings, section.name))}
        for section in dataclasses.fields(settings)
    }
    assert {name: set(keys) for name, keys in documented.items()} == expected
