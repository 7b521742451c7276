"""Benchmark: open one NPKI signing pair, certmate's `npki` against PyPinkSign, side by side.

Opening = parse signCert.der, decrypt a seedCBCWithSHA1/2048 signPri.key
(RSA-2048, with randomNum), and (ours) prove the key belongs to the
certificate. PyPinkSign does not check the match; it does run OpenSSL's RSA
key validation, which is most of its time. Both run interleaved in one
process so machine noise hits both alike; medians and their ratio are printed.

    python bench/open_cert.py [--rounds N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pypinksign import PinkSign

import npki
from tests import factory

PASSWORD = b"bench-p@ssw0rd"
OURS_PER_ROUND = 10


def make_pair() -> tuple[bytes, bytes]:
    """A yessign-style RSA-2048 pair, key in seedCBCWithSHA1 with 2048 iterations."""
    ca = factory.make_ca("yessign")
    key = factory.rsa_key(2048)
    cert = factory.cert_der(factory.make_cert(ca, key))
    plain = factory.private_key_info(key, os.urandom(20))
    return cert, factory.seed_cbc_sha1_key(plain, PASSWORD, iterations=2048)


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def run(rounds: int) -> dict[str, float]:
    cert, key = make_pair()

    def ours() -> object:
        return npki.open_pair(cert, key, PASSWORD)

    def pypinksign() -> object:
        signer = PinkSign(pubkey_data=cert)
        signer.load_prikey(prikey_data=key, prikey_password=PASSWORD)
        return signer.prikey

    ours(), pypinksign()  # warm up imports and caches
    ours_samples: list[float] = []
    theirs_samples: list[float] = []
    for _ in range(rounds):
        theirs_samples.append(timed(pypinksign))
        ours_samples.extend(timed(ours) for _ in range(OURS_PER_ROUND))
    ours_ms = statistics.median(ours_samples) * 1000
    theirs_ms = statistics.median(theirs_samples) * 1000
    return {
        "rounds": rounds,
        "certmate_ms": round(ours_ms, 3),
        "pypinksign_ms": round(theirs_ms, 3),
        "ratio": round(theirs_ms / ours_ms, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60, help="PyPinkSign opens (ours: 10x)")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of text")
    args = parser.parse_args()
    result = run(args.rounds)
    if args.json:
        print(json.dumps(result))
        return
    print("open a seedCBCWithSHA1/2048 RSA-2048 NPKI pair (parse + decrypt + key check)")
    print(f"  certmate npki : {result['certmate_ms']:8.3f} ms  (median)")
    print(f"  PyPinkSign    : {result['pypinksign_ms']:8.3f} ms  (median)")
    print(f"  ratio         : {result['ratio']:8.1f} x faster")


if __name__ == "__main__":
    main()
