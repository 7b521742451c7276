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

Each error carries a short message fit to show a user, in Korean and in
English. `str(err)` is the English one.
"""

from __future__ import annotations

from typing import ClassVar


class NpkiError(Exception):
    """Root of every error `npki` raises."""

    kind: ClassVar[str] = "invalid_input"
    default_ko: ClassVar[str] = "인증서 파일을 읽을 수 없습니다."
    default_en: ClassVar[str] = "The certificate files could not be read."

    def __init__(self, en: str | None = None, ko: str | None = None) -> None:
        self.message_en = en or self.default_en
        self.message_ko = ko or self.default_ko
        super().__init__(self.message_en)

    def message(self, locale: str) -> str:
        """The message in `locale` ("ko" or "en"); Korean for anything else Korean."""
        return self.message_ko if locale.lower().startswith("ko") else self.message_en


class WrongPassword(NpkiError):
    """The password does not open the private key (or the PFX)."""

    kind = "wrong_password"
    default_ko = "인증서 비밀번호가 맞지 않습니다."
    default_en = "The certificate password is not correct."


class PasswordRequired(WrongPassword):
    """A password is needed to read this input and none was given."""

    default_ko = "이 파일을 열려면 인증서 비밀번호가 필요합니다."
    default_en = "A certificate password is needed to open this file."


class MalformedInput(NpkiError):
    """The bytes are damaged or are not a certificate, key, PFX or zip."""

    kind = "invalid_input"


class UnsupportedFormat(NpkiError):
    """Well-formed input in a format or algorithm `npki` does not read."""

    kind = "unsupported"
    default_ko = "지원하지 않는 인증서 형식입니다."
    default_en = "This certificate format is not supported."


class UnsafeInput(NpkiError):
    """Input refused before processing: over a limit, or a dangerous archive."""

    kind = "unsafe_input"
    default_ko = "안전하지 않은 파일이라 열지 않았습니다."
    default_en = "The file was refused because it is not safe to open."


class KeyMismatch(NpkiError):
    """The private key does not belong to the certificate."""

    kind = "key_mismatch"
    default_ko = "개인키(signPri.key)가 이 인증서(signCert.der)의 짝이 아닙니다."
    default_en = "The private key (signPri.key) does not belong to this certificate (signCert.der)."
