"""A set of named files as one byte string, for sealing (certificate bundles, files in a flow)."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping


def pack_files(files: Mapping[str, bytes]) -> bytes:
    return json.dumps(
        {name: base64.b64encode(data).decode() for name, data in files.items()}
    ).encode()


def unpack_files(data: bytes) -> dict[str, bytes]:
    return {name: base64.b64decode(text) for name, text in json.loads(data).items()}
