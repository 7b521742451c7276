"""One HTTP/1.1 request written byte for byte on a socket: what aiohttp's client will
not send (header values that are not UTF-8, for one)."""

from __future__ import annotations

import asyncio


async def raw_post(port: int, path: str, headers: list[bytes], body: bytes) -> int:
    """POST `body` to 127.0.0.1:`port` with `headers` (each a whole `Name: value` line,
    any bytes); the status of the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        head = [f"POST {path} HTTP/1.1".encode(), b"Host: certmate", b"Connection: close"]
        head += [*headers, b"Content-Type: application/json", b"Content-Length: %d" % len(body)]
        writer.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 10)
        return int(status_line.split()[1])
    finally:
        writer.close()
