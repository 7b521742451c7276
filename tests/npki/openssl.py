"""PFX files written by the `openssl` command with any options (a third implementation)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def pfx(key: rsa.RSAPrivateKey, cert: x509.Certificate, password: str, *options: str) -> bytes:
    """`openssl pkcs12 -export` of `key` and `cert` under `password`, with `options` added."""
    openssl = shutil.which("openssl")
    assert openssl, "the openssl command is needed to make PFX test files"
    with tempfile.TemporaryDirectory() as folder:
        key_path, cert_path, out = (Path(folder) / n for n in ("k.pem", "c.pem", "o.pfx"))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        subprocess.run(
            [openssl, "pkcs12", "-export", "-inkey", str(key_path), "-in", str(cert_path),
             "-out", str(out), "-passout", f"pass:{password}", *options],
            check=True,
            capture_output=True,
        )  # fmt: skip
        return out.read_bytes()
