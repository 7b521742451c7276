"""HTTP/1.1 written byte for byte on a socket: what aiohttp's client will not send
(header values that are not UTF-8, broken framing, garbage)."""

from __future__ import annotations

import asyncio


async def raw_exchange(port: int, request: bytes) -> bytes:
    """Send `request` to 127.0.0.1:`port`; the answer's status line and headers."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    finally:
        writer.close()


async def raw_post(port: int, path: str, headers: list[bytes], body: bytes) -> int:
    """POST `body` to `path` with `headers` (each a whole `Name: value` line, any bytes);
    the status of the answer."""
    head = [f"POST {path} HTTP/1.1".encode(), b"Host: certmate", b"Connection: close"]
    head += [*headers, b"Content-Type: application/json", b"Content-Length: %d" % len(body)]
    answer = await raw_exchange(port, b"\r\n".join(head) + b"\r\n\r\n" + body)
    return int(answer.split()[1])
