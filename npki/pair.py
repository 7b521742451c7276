"""Open one signing pair: `signCert.der` + `signPri.key` + password."""

from __future__ import annotations

from dataclasses import dataclass, field

from npki._guard import guarded
from npki.certificate import Certificate, parse_certificate
from npki.keyfile import KeyEncryption, KeyFile, decrypt_key_file, parse_key_file
from npki.keymatch import SigningKey, check_key_matches, load_private_key
from npki.limits import DEFAULT_LIMITS, Limits


@dataclass(frozen=True, slots=True)
class OpenedCertificate:
    """A certificate whose private key was decrypted and proven to be its own.

    Holds secrets (`private_key`, `private_key_info`): keep it in memory only
    for as long as the work that needed the password.
    """

    certificate: Certificate
    private_key: SigningKey = field(repr=False)
    key_file: KeyFile
    """How the key was protected where it came from (scheme, iterations, PRF)."""
    random_num: bytes | None = field(repr=False)
    """The KISA randomNum attribute (identity checks with the VID), when the key had one."""
    private_key_info: bytes = field(repr=False)
    """The plaintext PKCS#8 PrivateKeyInfo, attributes included, for writing the key back out."""

    @property
    def encryption(self) -> KeyEncryption:
        return self.key_file.encryption

    @property
    def iterations(self) -> int | None:
        return self.key_file.iterations


@guarded
def open_pair(
    cert: bytes, key: bytes, password: bytes, *, limits: Limits = DEFAULT_LIMITS
) -> OpenedCertificate:
    """Open a signing pair; raises `WrongPassword`, `KeyMismatch` or another `NpkiError`."""
    certificate = parse_certificate(cert, limits)
    return open_key(certificate, parse_key_file(key, limits), password, limits)


def open_key(
    certificate: Certificate, key_file: KeyFile, password: bytes, limits: Limits
) -> OpenedCertificate:
    """Decrypt `key_file`, load the key and prove it belongs to `certificate`."""
    plain = decrypt_key_file(key_file, password)
    private_key = load_private_key(plain.der, limits)
    check_key_matches(private_key, certificate.public_key())
    return OpenedCertificate(
        certificate=certificate,
        private_key=private_key,
        key_file=key_file,
        random_num=plain.random_num,
        private_key_info=plain.der,
    )
