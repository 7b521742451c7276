"""The flows, one module each: every module here that exports `SPEC` is a flow.

Adding a flow is adding a module (and its texts): the engine builds its commands,
menus, words and button actions from the specs found here.
"""

from __future__ import annotations

import importlib
import pkgutil

from handlers.flow import FlowSpec


def all_specs() -> list[FlowSpec]:
    """Every flow's spec, in menu order."""
    found = []
    for module in pkgutil.iter_modules(__path__):
        spec = getattr(importlib.import_module(f"{__name__}.{module.name}"), "SPEC", None)
        if isinstance(spec, FlowSpec):
            found.append(spec)
    return sorted(found, key=lambda spec: (spec.rank, spec.name))
