"""CBC decryption with PKCS#7 padding, where bad padding means a wrong password.

Every password-encrypted thing `npki` opens (key files, PFX safes) ends in
PKCS#7 padding; a wrong password shows up there first. One place says so.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import BlockCipherAlgorithm, Cipher, modes

from npki.errors import WrongPassword


def decrypt_cbc(algorithm: BlockCipherAlgorithm, iv: bytes, data: bytes) -> bytes:
    """`data` decrypted with `algorithm` in CBC mode, padding removed."""
    decryptor = Cipher(algorithm, modes.CBC(iv)).decryptor()
    return unpad(decryptor.update(data) + decryptor.finalize(), algorithm.block_size // 8)


def unpad(padded: bytes, block_bytes: int) -> bytes:
    """`padded` without its PKCS#7 padding; `WrongPassword` when the padding is not valid."""
    unpadder = padding.PKCS7(8 * block_bytes).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError as err:
        raise WrongPassword() from err
