"""The command menu a chat app shows next to the text box, in each language.

Channels that have such a menu (Telegram's `setMyCommands`) publish this
list; the commands are the ones `Assistant` routes.
"""

from __future__ import annotations

from typing import Final

from handlers.i18n import Catalog

MENU: Final = (
    ("add", "command.add"),
    ("certs", "command.certs"),
    ("link", "command.link"),
    ("renew", "command.renew"),
    ("export", "command.export"),
    ("remind", "command.remind"),
    ("privacy", "command.privacy"),
    ("lang", "command.lang"),
    ("help", "command.help"),
    ("cancel", "command.cancel"),
)


def command_menu(catalog: Catalog, locale: str) -> list[tuple[str, str]]:
    """(command without the slash, its description in `locale`), in menu order."""
    texts = catalog.texts(locale)
    return [(command, texts(key)) for command, key in MENU]
