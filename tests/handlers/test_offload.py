"""Certificate work runs on the worker thread, and the event loop keeps running meanwhile."""

from __future__ import annotations

import asyncio
import threading

import pytest

import npki
from handlers.offload import Worker
from tests import factory
from tests.conftest import Holder


async def test_results_and_errors_come_back_from_the_worker_thread(holder: Holder) -> None:
    worker = Worker()
    assert await worker.run(threading.get_ident) != threading.get_ident()
    opened = await worker.run(npki.read_certificate, holder.cert_der)
    assert opened.holder == "홍길동"
    with pytest.raises(npki.MalformedInput):
        await worker.run(npki.read_certificate, b"\x30\x03junk")
    worker.close()


async def test_each_worker_has_its_own_thread_and_a_closed_one_takes_no_work() -> None:
    """The pool belongs to whoever made it (an assistant's Services), not to the module:
    closing one leaves another working."""
    first, second = Worker(), Worker()
    assert await first.run(threading.get_ident) != await second.run(threading.get_ident)
    first.close()
    with pytest.raises(RuntimeError):
        await first.run(threading.get_ident)
    assert await second.run(lambda: 2) == 2
    second.close()


async def test_the_loop_keeps_running_while_a_key_is_opened(holder: Holder) -> None:
    """A key at the iteration limit (100,000 rounds of PBKDF1, a Python loop) is opened
    while another task keeps ticking: on the event loop it could not tick at all."""
    key = factory.seed_cbc_sha1_key(holder.plain, factory.PASSWORD, iterations=100_000)
    ticks = 0
    done = asyncio.Event()

    async def tick() -> None:
        nonlocal ticks
        while not done.is_set():
            await asyncio.sleep(0.001)
            ticks += 1

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0)  # the ticker is waiting in its sleep
    before = ticks
    worker = Worker()
    opened = await worker.run(npki.open_pair, holder.cert_der, key, factory.PASSWORD)
    worker.close()
    during = ticks - before
    done.set()
    await ticker
    assert opened.certificate.der == holder.cert_der
    assert during >= 3
