"""The one error tree of `npki`.

Every failure a caller can cause raises a subclass of `NpkiError`; nothing
else escapes the library's public functions::

    NpkiError                 (kind)
    ├── WrongPassword         wrong_password   the password does not open the key
    │   └── PasswordRequired  wrong_password   a key or PFX came without a password
    ├── MalformedInput        invalid_input    damaged or not what it claims to be
    ├── UnsupportedFormat     unsupported      well-formed, but not a format we read
    ├── UnsafeInput           unsafe_input     over a limit, zip bomb, zip-slip path
    └── KeyMismatch           key_mismatch     the key does not belong to the certificate

Each error carries a `reason` (one `Reason` per distinct failure) and the
`params` that make it specific (a limit, a file name, an OID). `str(err)` is
an English sentence for developers and logs; what a user reads comes from
the application's message catalogs, keyed by the reason (`npki.<reason>`)
and filled with the same params. The library itself holds no user texts.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import ClassVar, Final

Param = str | int
"""A parameter of a reason: a number (a limit, a count) or a name (a file, an OID)."""


class Reason(StrEnum):
    """Why `npki` refused an input: stable names a caller maps to its own texts."""

    UNREADABLE = "unreadable"
    WRONG_PASSWORD = "wrong_password"  # noqa: S105  (a reason, not a password)
    PASSWORD_REQUIRED = "password_required"  # noqa: S105  (a reason, not a password)
    KEY_MISMATCH = "key_mismatch"
    # any file
    FILE_TOO_SHORT = "file_too_short"
    FILE_CUT_SHORT = "file_cut_short"
    FILE_TOO_LARGE = "file_too_large"
    FILE_NOT_RECOGNISED = "file_not_recognised"
    UPLOAD_ROUNDS_OVER_LIMIT = "upload_rounds_over_limit"
    # certificates
    CERTIFICATE_TOO_LARGE = "certificate_too_large"
    NOT_CERTIFICATE = "not_certificate"
    CERTIFICATE_TRAILING_DATA = "certificate_trailing_data"
    CA_TOO_LARGE = "ca_too_large"
    NOT_CA_CERTIFICATE = "not_ca_certificate"
    # private keys
    KEY_TOO_LARGE = "key_too_large"
    KEY_DAMAGED = "key_damaged"
    KEY_TRAILING_DATA = "key_trailing_data"
    KEY_ENCRYPTION_UNSUPPORTED = "key_encryption_unsupported"
    KEY_KDF_UNSUPPORTED = "key_kdf_unsupported"
    KEY_PRF_UNSUPPORTED = "key_prf_unsupported"
    KEY_CIPHER_UNSUPPORTED = "key_cipher_unsupported"
    KEY_ROUNDS_OVER_LIMIT = "key_rounds_over_limit"
    KEY_TYPE_UNSUPPORTED = "key_type_unsupported"
    KEY_SCHEME_NOT_WRITABLE = "key_scheme_not_writable"
    RSA_KEY_TOO_LARGE = "rsa_key_too_large"
    # PFX
    PFX_TOO_LARGE = "pfx_too_large"
    NOT_PFX = "not_pfx"
    PFX_DAMAGED = "pfx_damaged"
    PFX_INCOMPLETE = "pfx_incomplete"
    PFX_SIGNED = "pfx_signed"
    PFX_LAYOUT_UNSUPPORTED = "pfx_layout_unsupported"
    PFX_NESTED_BAGS = "pfx_nested_bags"
    PFX_TOO_MANY_SAFES = "pfx_too_many_safes"
    PFX_TOO_MANY_BAGS = "pfx_too_many_bags"
    PFX_ENCRYPTION_UNSUPPORTED = "pfx_encryption_unsupported"
    PFX_KDF_UNSUPPORTED = "pfx_kdf_unsupported"
    PFX_PRF_UNSUPPORTED = "pfx_prf_unsupported"
    PFX_CIPHER_UNSUPPORTED = "pfx_cipher_unsupported"
    PFX_ROUNDS_OVER_LIMIT = "pfx_rounds_over_limit"
    PFX_TOTAL_ROUNDS_OVER_LIMIT = "pfx_total_rounds_over_limit"
    PFX_PASSWORD_NOT_TEXT = "pfx_password_not_text"  # noqa: S105  (a reason, not a password)
    # zip
    ZIP_TOO_LARGE = "zip_too_large"
    ZIP_DAMAGED = "zip_damaged"
    ZIP_ENCRYPTED = "zip_encrypted"
    ZIP_COMPRESSION_UNSUPPORTED = "zip_compression_unsupported"
    ZIP_TOO_MANY_ENTRIES = "zip_too_many_entries"
    ZIP_DUPLICATE_ENTRY = "zip_duplicate_entry"
    ZIP_LINK = "zip_link"
    ZIP_NESTED_ARCHIVE = "zip_nested_archive"
    ZIP_RATIO_OVER_LIMIT = "zip_ratio_over_limit"
    ZIP_EXPANDS_OVER_LIMIT = "zip_expands_over_limit"
    ZIP_PATH_OUTSIDE = "zip_path_outside"
    ZIP_SIZE_MISMATCH = "zip_size_mismatch"
    ZIP_ENTRY_NAME_UNSAFE = "zip_entry_name_unsafe"


ENGLISH: Final[Mapping[Reason, str]] = MappingProxyType(
    {
        Reason.UNREADABLE: "The certificate files could not be read.",
        Reason.WRONG_PASSWORD: "The certificate password is not correct.",
        Reason.PASSWORD_REQUIRED: "A certificate password is needed to open this file.",
        Reason.KEY_MISMATCH: "The private key (signPri.key) does not belong to this "
        "certificate (signCert.der).",
        Reason.FILE_TOO_SHORT: "The file is empty or too short.",
        Reason.FILE_CUT_SHORT: "The file is cut short.",
        Reason.FILE_TOO_LARGE: "{name} is larger than {limit} bytes.",
        Reason.FILE_NOT_RECOGNISED: "{name} is not a certificate, a private key, a PFX or a zip.",
        Reason.UPLOAD_ROUNDS_OVER_LIMIT: "Opening this upload takes {rounds} key-derivation "
        "rounds in all, more than the limit of {limit}.",
        Reason.CERTIFICATE_TOO_LARGE: "The certificate file is larger than {limit} bytes.",
        Reason.NOT_CERTIFICATE: "This is not a certificate file, or it is damaged.",
        Reason.CERTIFICATE_TRAILING_DATA: "The certificate file carries {size} extra bytes "
        "after its content, more than the {limit} real files may have.",
        Reason.CA_TOO_LARGE: "The CA certificate file is larger than {limit} bytes.",
        Reason.NOT_CA_CERTIFICATE: "This is not a CA certificate file.",
        Reason.KEY_TOO_LARGE: "The key file is larger than {limit} bytes.",
        Reason.KEY_DAMAGED: "The private key is damaged.",
        Reason.KEY_TRAILING_DATA: "The private key file carries {size} extra bytes after its "
        "content, more than the {limit} real files may have.",
        Reason.KEY_ENCRYPTION_UNSUPPORTED: "The private key uses an unsupported encryption "
        "({oid}).",
        Reason.KEY_KDF_UNSUPPORTED: "The private key uses an unsupported key derivation.",
        Reason.KEY_PRF_UNSUPPORTED: "The private key uses an unsupported PRF ({oid}).",
        Reason.KEY_CIPHER_UNSUPPORTED: "The private key uses an unsupported cipher ({oid}).",
        Reason.KEY_ROUNDS_OVER_LIMIT: "The private key asks for {rounds} key-derivation "
        "rounds, more than the limit of {limit}.",
        Reason.KEY_TYPE_UNSUPPORTED: "The private key type is not supported.",
        Reason.KEY_SCHEME_NOT_WRITABLE: "Cannot write a key with {scheme}.",
        Reason.RSA_KEY_TOO_LARGE: "The RSA key is larger than {limit} bits.",
        Reason.PFX_TOO_LARGE: "The PFX file is larger than {limit} bytes.",
        Reason.NOT_PFX: "This is not a PFX file.",
        Reason.PFX_DAMAGED: "The PFX file is damaged.",
        Reason.PFX_INCOMPLETE: "The PFX file does not hold both a certificate and its private key.",
        Reason.PFX_SIGNED: "PFX files signed with a public key are not supported.",
        Reason.PFX_LAYOUT_UNSUPPORTED: "This PFX uses a layout that is not supported.",
        Reason.PFX_NESTED_BAGS: "Nested PFX bags are not supported.",
        Reason.PFX_TOO_MANY_SAFES: "The PFX holds {count} safes, more than the limit of {limit}.",
        Reason.PFX_TOO_MANY_BAGS: "A PFX safe holds {count} bags, more than the limit of {limit}.",
        Reason.PFX_ENCRYPTION_UNSUPPORTED: "The PFX uses an unsupported encryption ({oid}).",
        Reason.PFX_KDF_UNSUPPORTED: "The PFX uses an unsupported key derivation.",
        Reason.PFX_PRF_UNSUPPORTED: "The PFX uses an unsupported PRF ({oid}).",
        Reason.PFX_CIPHER_UNSUPPORTED: "The PFX uses an unsupported cipher ({oid}).",
        Reason.PFX_ROUNDS_OVER_LIMIT: "The PFX asks for {rounds} key-derivation rounds, more "
        "than the limit of {limit}.",
        Reason.PFX_TOTAL_ROUNDS_OVER_LIMIT: "Opening this PFX takes {rounds} key-derivation "
        "rounds in all, more than the limit of {limit}.",
        Reason.PFX_PASSWORD_NOT_TEXT: "A PFX password must be plain text (UTF-8) without NUL "
        "characters.",
        Reason.ZIP_TOO_LARGE: "The zip file is larger than {limit} bytes.",
        Reason.ZIP_DAMAGED: "This zip file is damaged.",
        Reason.ZIP_ENCRYPTED: "Password-protected zip files are not supported.",
        Reason.ZIP_COMPRESSION_UNSUPPORTED: "The zip uses a compression method that is not "
        "supported.",
        Reason.ZIP_TOO_MANY_ENTRIES: "The zip file was refused: it lists {count} entries "
        "(limit {limit}).",
        Reason.ZIP_DUPLICATE_ENTRY: "The zip file was refused: the entry '{path}' appears twice.",
        Reason.ZIP_LINK: "The zip file was refused: '{path}' is a link.",
        Reason.ZIP_NESTED_ARCHIVE: "The zip file was refused: '{path}' is an archive inside "
        "the archive.",
        Reason.ZIP_RATIO_OVER_LIMIT: "The zip file was refused: '{path}' expands more than "
        "{limit} times.",
        Reason.ZIP_EXPANDS_OVER_LIMIT: "The zip file was refused: it expands to more than "
        "{limit} bytes.",
        Reason.ZIP_PATH_OUTSIDE: "The zip file was refused: the path '{path}' points outside "
        "the archive.",
        Reason.ZIP_SIZE_MISMATCH: "The zip file was refused: '{path}' is not the size it declares.",
        Reason.ZIP_ENTRY_NAME_UNSAFE: "Refused to write the zip entry '{path}'.",
    }
)
"""The developer's sentence for every reason (`str(err)`), filled with its params."""


def placeholders(template: str) -> frozenset[str]:
    """The `{names}` a template fills."""
    return frozenset(name for _, name, _, _ in string.Formatter().parse(template) if name)


class NpkiError(Exception):
    """Root of every error `npki` raises."""

    kind: ClassVar[str] = "invalid_input"
    default_reason: ClassVar[Reason] = Reason.UNREADABLE

    def __init__(self, reason: Reason | None = None, **params: Param) -> None:
        self.reason: Reason = reason or self.default_reason
        self.params: Mapping[str, Param] = MappingProxyType(params)
        super().__init__(ENGLISH[self.reason].format(**params))

    def __reduce__(self) -> tuple[object, ...]:
        """Pickle by reason and params (the default would call `__init__` with the text)."""
        return (_rebuild, (type(self), self.reason, dict(self.params)))


def _rebuild(cls: type[NpkiError], reason: Reason, params: dict[str, Param]) -> NpkiError:
    return cls(reason, **params)


class WrongPassword(NpkiError):
    """The password does not open the private key (or the PFX)."""

    kind = "wrong_password"
    default_reason = Reason.WRONG_PASSWORD


class PasswordRequired(WrongPassword):
    """A password is needed to read this input and none was given."""

    default_reason = Reason.PASSWORD_REQUIRED


class MalformedInput(NpkiError):
    """The bytes are damaged or are not a certificate, key, PFX or zip."""

    kind = "invalid_input"


class UnsupportedFormat(NpkiError):
    """Well-formed input in a format or algorithm `npki` does not read."""

    kind = "unsupported"


class UnsafeInput(NpkiError):
    """Input refused before processing: over a limit, or a dangerous archive."""

    kind = "unsafe_input"


class KeyMismatch(NpkiError):
    """The private key does not belong to the certificate."""

    kind = "key_mismatch"
    default_reason = Reason.KEY_MISMATCH


@dataclass(frozen=True, slots=True)
class Envelope:
    """The reasons an encrypted container is refused with, for the file it came in (a
    private key, or a PFX whose safe or key bag uses the same schemes)."""

    damaged: Reason
    rounds_over_limit: Reason
    kdf_unsupported: Reason
    prf_unsupported: Reason
    cipher_unsupported: Reason


PRIVATE_KEY: Final = Envelope(
    Reason.KEY_DAMAGED,
    Reason.KEY_ROUNDS_OVER_LIMIT,
    Reason.KEY_KDF_UNSUPPORTED,
    Reason.KEY_PRF_UNSUPPORTED,
    Reason.KEY_CIPHER_UNSUPPORTED,
)
PFX: Final = Envelope(
    Reason.PFX_DAMAGED,
    Reason.PFX_ROUNDS_OVER_LIMIT,
    Reason.PFX_KDF_UNSUPPORTED,
    Reason.PFX_PRF_UNSUPPORTED,
    Reason.PFX_CIPHER_UNSUPPORTED,
)
