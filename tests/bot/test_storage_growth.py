"""A chat request costs a bounded number of rows: a user who keeps talking does not grow
the database (README, "Capacity")."""

from __future__ import annotations

import sqlalchemy as sa

from storage.database import Database
from storage.models import metadata
from tests.bot.kakao_site import Site
from tests.fakes.kakao_skill import labels

REQUESTS = 300
WARM_UP = 60
"""Requests after which the user holds the cap of buttons (most answers carry eight)."""
SLACK_PAGES = 4
"""Pages (4 KiB) the file may still take after the warm-up: b-tree pages splitting
differently as tokens are replaced. Without the cap it grows ~80 pages here."""


async def _rows(database: Database) -> dict[str, int]:
    async with database.read() as session:
        return {
            table.name: int(
                await session.scalar(sa.select(sa.func.count()).select_from(table)) or 0
            )
            for table in metadata.sorted_tables
        }


async def _pages(database: Database) -> int:
    async with database.read() as session:
        return int(await session.scalar(sa.text("PRAGMA page_count")) or 0)


async def test_three_hundred_requests_keep_every_table_and_the_file_bounded(site: Site) -> None:
    """One Kakao user makes 300 requests that show buttons (the menu, a press of its 도움말
    button, the certificate list, /help), as fast as `[limits] messages_per_minute`
    lets them through (one every 3 seconds): after every one, each table
    holds at most its bound (the user, one conversation, `[limits] buttons_per_user`
    buttons; nothing anywhere else), and once the cap is reached the SQLite file stops
    growing: the pages of the forgotten buttons are reused."""
    world = site.world
    bounds = {"users": 1, "conversation_states": 1, "button_tokens": world.settings.caps.buttons}
    steps = ("메뉴", "press 도움말", "/certs", "/help")
    pages_warm = 0
    for number in range(REQUESTS):
        world.clock.advance(seconds=60 / world.settings.messages_per_minute)
        step = steps[number % len(steps)]
        if step.startswith("press "):
            answer = await site.press("kakao-user", step.removeprefix("press "))
        else:
            answer = await site.say("kakao-user", step)
        assert labels(answer), answer  # a real answer with buttons, not "too fast"
        rows = await _rows(world.database)
        over = {name: count for name, count in rows.items() if count > bounds.get(name, 0)}
        assert not over, f"after request {number + 1}: {over} (bounds {bounds})"
        if number + 1 == WARM_UP:
            assert rows["button_tokens"] == bounds["button_tokens"]
            pages_warm = await _pages(world.database)
    grown = await _pages(world.database) - pages_warm
    assert grown <= SLACK_PAGES, f"the file grew {grown} pages after the warm-up"
