"""Two `certmate run` processes on one PostgreSQL database, webhook mode, against the fake
Bot API: updates posted to either process's webhook (as a load balancer would) are
answered exactly once, each user's in order, through a database outage and a stop."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import sqlalchemy as sa
from sqlmodel import select

from storage.database import Database
from storage.models import ProcessedUpdate
from tests.bot.processes import WEBHOOK_SECRET, healthy, start_run, stop, telegram_webhook_env
from tests.conftest import PostgresDatabases, free_port
from tests.fakes.telegram import FakeBotApi
from tests.faults import FlakyProxy

HELP = "이렇게 도와드릴 수 있어요"


class Node:
    """One `certmate run` process and its webhook."""

    def __init__(self, port: int, process: asyncio.subprocess.Process) -> None:
        self.port = port
        self.process = process

    async def post(self, http: aiohttp.ClientSession, update: dict[str, Any]) -> None:
        """Deliver as Telegram does: again until answered 200."""
        url = f"http://127.0.0.1:{self.port}/telegram/webhook"
        while True:
            try:
                async with http.post(
                    url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
                ) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)


@asynccontextmanager
async def cluster(
    api: FakeBotApi, database_url: str
) -> AsyncIterator[tuple[dict[str, str], list[Node]]]:
    """The environment of the processes, and the list of those started (stopped at the
    end, each asserted to exit 0)."""
    env = telegram_webhook_env(api) | {"CERTMATE_DATABASE__URL": database_url}
    nodes: list[Node] = []
    try:
        yield env, nodes
    finally:
        for node in nodes:
            if node.process.returncode is None:
                await stop(node.process)


async def start(tmp_path: Path, env: dict[str, str], nodes: list[Node]) -> Node:
    port = free_port()
    process = await start_run(tmp_path, env | {"CERTMATE_HTTP__PORT": str(port)})
    node = Node(port, process)
    nodes.append(node)
    await healthy(port, process)
    return node


def kinds(api: FakeBotApi, user: int) -> list[str]:
    return ["help" if HELP in m["text"] else "other" for m in api.sent_messages(user)]


async def pending_rows(database_url: str) -> list[ProcessedUpdate]:
    database = Database.connect(database_url)
    try:
        async with database.read() as session:
            rows = await session.scalars(
                select(ProcessedUpdate).where(
                    sa.or_(
                        sa.column("handled_at").is_(None),
                        sa.column("dead_at").is_not(None),
                    )
                )
            )
            return list(rows.all())
    finally:
        await database.close()


async def test_a_second_process_starting_does_not_answer_updates_in_flight(
    tmp_path: Path, postgres_databases: PostgresDatabases
) -> None:
    """60 users' updates are recorded by A and being answered (the replies are slow) when
    B starts: each user gets exactly one reply (B used to replay every one of them)."""
    created = await postgres_databases.create()
    url = created.render_as_string(hide_password=False)
    try:
        async with FakeBotApi() as api, cluster(api, url) as (env, nodes):
            a = await start(tmp_path, env, nodes)
            api.delay("sendMessage", 4.5)  # in flight while B starts; under PTB's 5 s timeout
            users = range(1000, 1060)
            async with aiohttp.ClientSession() as http:
                await asyncio.gather(*(a.post(http, api.text_update(u, "/help")) for u in users))
            await api.wait_for(lambda: len(api.calls_of("sendMessage")) >= 60, timeout=30)
            await start(tmp_path, env, nodes)
            await api.wait_for(lambda: all(api.sent_messages(u) for u in users), timeout=30)
            await asyncio.sleep(6)  # B's next sweep, too
            assert {u: kinds(api, u) for u in users} == {u: ["help"] for u in users}
            assert await pending_rows(url) == []
    finally:
        await postgres_databases.drop(created)


async def test_one_users_updates_are_answered_in_order_across_processes(
    tmp_path: Path, postgres_databases: PostgresDatabases
) -> None:
    """A user's updates reach A and B alternately, quickly: a file (slow to fetch) then
    /help, four times. The answers come in that order, none twice (each process used to
    answer its own at once, /help overtaking the file)."""
    created = await postgres_databases.create()
    url = created.render_as_string(hide_password=False)
    user = 2024
    try:
        async with FakeBotApi() as api, cluster(api, url) as (env, nodes):
            a = await start(tmp_path, env, nodes)
            b = await start(tmp_path, env, nodes)
            api.delay("getFile", 1)
            async with aiohttp.ClientSession() as http:
                for n in range(4):
                    await a.post(http, api.document_update(user, f"note{n}.txt", b"not a key"))
                    await b.post(http, api.text_update(user, "/help"))
            await api.wait_for(lambda: len(api.sent_messages(user)) >= 8, timeout=40)
            await asyncio.sleep(1)
            assert kinds(api, user) == ["other", "help"] * 4
            assert await pending_rows(url) == []
    finally:
        await postgres_databases.drop(created)


async def test_a_database_outage_loses_no_acknowledged_update(
    tmp_path: Path, postgres_databases: PostgresDatabases
) -> None:
    """PostgreSQL is cut for 2.5 s while 30 acknowledged button presses wait to be
    handled: every one is answered exactly once when it is back, none is marked handled
    without its answer (they used to fail with OperationalError and be dropped)."""
    created = await postgres_databases.create()
    direct = created.render_as_string(hide_password=False)
    users = range(3000, 3030)
    try:
        async with (
            FlakyProxy(created.host or "127.0.0.1", created.port or 5432) as proxy,
            FakeBotApi() as api,
        ):
            through = created.set(host="127.0.0.1", port=proxy.port)
            async with cluster(api, through.render_as_string(hide_password=False)) as (
                env,
                nodes,
            ):
                a = await start(tmp_path, env, nodes)
                api.delay("answerCallbackQuery", 1.5)  # the steps run after the cut
                async with aiohttp.ClientSession() as http:
                    await asyncio.gather(
                        *(a.post(http, api.callback_update(u, "no-such-button")) for u in users)
                    )
                await proxy.outage(2.5)
                await api.wait_for(lambda: all(api.sent_messages(u) for u in users), timeout=40)
                await asyncio.sleep(1)
                assert proxy.cuts == 1
                assert {u: len(api.sent_messages(u)) for u in users} == dict.fromkeys(users, 1)
                assert await pending_rows(direct) == []
    finally:
        await postgres_databases.drop(created)


async def test_a_stopped_process_hands_its_pending_updates_over_at_once(
    tmp_path: Path, postgres_databases: PostgresDatabases
) -> None:
    """A is fetching 10 users' files (too slowly to finish), their /help queued behind,
    when it gets SIGTERM: it exits within 10 s and releases their lanes, and B answers
    both updates of every user, in order, once, well within a lease (B used to leave
    them until the next start)."""
    created = await postgres_databases.create()
    url = created.render_as_string(hide_password=False)
    users = range(5000, 5010)
    try:
        async with FakeBotApi() as api, cluster(api, url) as (env, nodes):
            a = await start(tmp_path, env, nodes)
            await start(tmp_path, env, nodes)
            api.delay("getFile", 60)
            async with aiohttp.ClientSession() as http:
                for u in users:
                    await a.post(http, api.document_update(u, "note.txt", b"not a key"))
                    await a.post(http, api.text_update(u, "/help"))
            await api.wait_for(lambda: len(api.calls_of("getFile")) >= 10, timeout=20)
            stopped = time.monotonic()
            a.process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(a.process.wait(), timeout=15)
            assert a.process.returncode == 0
            assert time.monotonic() - stopped < 10.5
            assert all(api.sent_messages(u) == [] for u in users)  # A finished none
            api.delay("getFile", 0)
            await api.wait_for(
                lambda: all(len(api.sent_messages(u)) >= 2 for u in users), timeout=20
            )
            assert time.monotonic() - stopped < 30  # the lease is 60 s
            await asyncio.sleep(1)
            assert {u: kinds(api, u) for u in users} == {u: ["other", "help"] for u in users}
            assert await pending_rows(url) == []
    finally:
        await postgres_databases.drop(created)
