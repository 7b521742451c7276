"""Session-wide test material: one throwaway CA, one holder, their key in every scheme.

Everything is generated at run time; no key material is committed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, settings

from tests import factory

settings.register_profile(
    "certmate",
    deadline=None,
    max_examples=150,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "certmate"))


@dataclass(frozen=True)
class Holder:
    """A certificate holder: key, certificate and the plaintext PKCS#8 with randomNum."""

    key: rsa.RSAPrivateKey
    cert: x509.Certificate
    cert_der: bytes
    random_num: bytes
    plain: bytes


@pytest.fixture(scope="session")
def ca() -> factory.Authority:
    return factory.make_ca("yessign")


@pytest.fixture(scope="session")
def holder(ca: factory.Authority) -> Holder:
    key = factory.rsa_key()
    cert = factory.make_cert(ca, key)
    random_num = bytes(range(1, 21))
    return Holder(
        key, cert, factory.cert_der(cert), random_num, factory.private_key_info(key, random_num)
    )


@pytest.fixture(scope="session")
def other_holder(ca: factory.Authority) -> Holder:
    key = factory.rsa_key()
    cert = factory.make_cert(ca, key, cn="김철수()0098765432109876", serial=0x77)
    random_num = bytes(range(21, 41))
    return Holder(
        key, cert, factory.cert_der(cert), random_num, factory.private_key_info(key, random_num)
    )


@pytest.fixture(scope="session")
def seed_key(holder: Holder) -> bytes:
    """signPri.key in the common scheme: seedCBCWithSHA1, 2048 iterations."""
    return factory.seed_cbc_sha1_key(holder.plain, factory.PASSWORD)
