"""A flood of made-up secure-page links, in its own process so it does not share the
test's event loop: `python -m tests.bot.flood BASE SOURCE_ADDRESS REQUESTS SECONDS`.

It sends at most REQUESTS requests, for at most SECONDS or until SIGTERM, from
SOURCE_ADDRESS (an address on lo, such as 127.0.0.2) to BASE only, prints "started"
once the first answer came, and at the end one JSON line: how many answers of each
status."""

from __future__ import annotations

import asyncio
import json
import secrets
import signal
import sys
import time
from collections import Counter

import aiohttp

CONCURRENCY = 64


async def flood(base: str, source: str, requests: int, seconds: float) -> Counter[int]:
    counts: Counter[int] = Counter()
    deadline = time.monotonic() + seconds
    sent = 0
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    connector = aiohttp.TCPConnector(limit=CONCURRENCY, local_addr=(source, 0))
    async with aiohttp.ClientSession(connector=connector) as http:

        async def worker() -> None:
            nonlocal sent
            while sent < requests and time.monotonic() < deadline and not stop.is_set():
                sent += 1
                async with http.get(f"{base}/u/{secrets.token_urlsafe(16)}") as response:
                    await response.read()
                    if not counts:
                        print("started", flush=True)  # noqa: T201
                    counts[response.status] += 1

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return counts


def main() -> None:
    base, source, requests, seconds = sys.argv[1:5]
    counts = asyncio.run(flood(base, source, int(requests), float(seconds)))
    print(json.dumps({str(status): n for status, n in counts.items()}), flush=True)  # noqa: T201


if __name__ == "__main__":
    main()
