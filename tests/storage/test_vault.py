"""The vault: envelope encryption bound to its record, and the master key file."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage.keyring import (
    KeyFileError,
    KeyringFile,
    create,
    load,
    new_keyring,
    parse_keyring,
    write_atomically,
)
from storage.vault import Binding, Sealed, Vault, VaultError

BINDING = Binding("certificate", "7", "42")
VAULT = Vault(new_keyring())

texts = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="|"), max_size=12)


@given(plaintext=st.binary(max_size=4096), kind=texts, record=texts, owner=texts)
def test_seal_then_open_round_trips(plaintext: bytes, kind: str, record: str, owner: str) -> None:
    """Whatever the payload and binding, opening gives back the payload."""
    binding = Binding(kind, record, owner)
    assert VAULT.open(VAULT.seal(plaintext, binding), binding) == plaintext


def test_each_record_gets_its_own_data_key_and_nonce() -> None:
    """Sealing the same payload twice gives unrelated blobs."""
    first, second = VAULT.seal(b"same", BINDING), VAULT.seal(b"same", BINDING)
    assert first.blob != second.blob
    assert first.blob[1:13] != second.blob[1:13]


@pytest.mark.parametrize(
    "other",
    [
        Binding("certificate", "8", "42"),  # another row
        Binding("certificate", "7", "43"),  # another owner
        Binding("account", "7", "42"),  # another table
    ],
    ids=["row", "owner", "kind"],
)
def test_a_blob_moved_elsewhere_does_not_open(other: Binding) -> None:
    """Associated data binds the blob to its kind, row and owner."""
    sealed = VAULT.seal(b"secret", BINDING)
    with pytest.raises(VaultError):
        VAULT.open(sealed, other)


@given(position=st.integers(min_value=0, max_value=200), bit=st.integers(min_value=0, max_value=7))
def test_any_flipped_bit_fails(position: int, bit: int) -> None:
    """Flipping any bit of the blob (header, wrapped key, nonce, ciphertext, tag) fails."""
    sealed = VAULT.seal(b"x" * 100, BINDING)
    blob = bytearray(sealed.blob)
    blob[position % len(blob)] ^= 1 << bit
    with pytest.raises(VaultError):
        VAULT.open(Sealed(sealed.key_id, bytes(blob)), BINDING)


def test_truncated_or_unknown_format_fails() -> None:
    """A blob too short, or of another format version, is refused."""
    sealed = VAULT.seal(b"x", BINDING)
    with pytest.raises(VaultError):
        VAULT.open(Sealed(sealed.key_id, sealed.blob[:40]), BINDING)
    with pytest.raises(VaultError):
        VAULT.open(Sealed(sealed.key_id, b"\x02" + sealed.blob[1:]), BINDING)


def test_a_key_id_not_in_the_keyring_fails() -> None:
    """A blob whose master key is gone (retired, or another deployment's) does not open."""
    sealed = VAULT.seal(b"x", BINDING)
    with pytest.raises(VaultError):
        Vault(new_keyring()).open(sealed, BINDING)
    with pytest.raises(VaultError):
        VAULT.open(Sealed("0000000000000000", sealed.blob), BINDING)


def test_rewrap_changes_only_the_wrapping() -> None:
    """After rotation the payload is the same bytes; only the data key's wrapping changed."""
    old = new_keyring()
    sealed = Vault(old).seal(b"payload", BINDING)
    rotated = old.with_new_key()
    fresh = Vault(rotated).rewrap(sealed, BINDING)
    assert fresh.key_id == rotated.current != sealed.key_id
    assert fresh.blob[-(7 + 16 + 12) :] == sealed.blob[-(7 + 16 + 12) :]  # nonce + ciphertext
    assert Vault(rotated.only_current()).open(fresh, BINDING) == b"payload"


def test_rng_is_a_parameter() -> None:
    """With a fixed rng the blob is reproducible (for tests); by default it is random."""
    keyring = new_keyring()
    fixed = Vault(keyring, rng=lambda n: b"\x01" * n)
    assert fixed.seal(b"x", BINDING) == fixed.seal(b"x", BINDING)


def test_key_file_is_created_0600_and_reloaded(tmp_path: Path) -> None:
    """A missing key file is created with mode 0600 in a 0700 folder, and read back the same."""
    path = tmp_path / "data" / "master.key"
    created = create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load(path) == created
    assert create(path) == created, "a second create keeps the key the first one made"


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o606])
def test_key_file_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    """A key file group or others can read is refused, naming the file and the fix."""
    path = tmp_path / "master.key"
    create(path)
    path.chmod(mode)
    with pytest.raises(KeyFileError, match=r"chmod 600 .*master\.key"):
        load(path)


def test_damaged_key_file_is_refused(tmp_path: Path) -> None:
    """A key file that is not a keyring says so instead of crashing."""
    path = tmp_path / "master.key"
    path.write_text("{not json")
    path.chmod(0o600)
    with pytest.raises(KeyFileError, match="not a certmate keyring"):
        load(path)


def test_keyring_from_environment_value() -> None:
    """CERTMATE_VAULT__KEY may hold a bare base64 key or a whole keyring."""
    key = base64.b64encode(bytes(32)).decode()
    assert parse_keyring(key, "env").key("env") == bytes(32)
    keyring = new_keyring()
    assert parse_keyring(keyring.to_json(), "env") == keyring
    with pytest.raises(KeyFileError):
        parse_keyring(base64.b64encode(bytes(16)).decode(), "env")
    with pytest.raises(KeyFileError):
        parse_keyring("not base64!", "env")


def test_atomic_write_leaves_no_temporary_and_keeps_0600(tmp_path: Path) -> None:
    """Replacing the keyring leaves exactly the file, still 0600."""
    path = tmp_path / "master.key"
    create(path)
    write_atomically(path, new_keyring().with_new_key())
    assert [p.name for p in tmp_path.iterdir()] == ["master.key"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(json.loads(path.read_text())["keys"]) == 2


def test_keyring_file_notices_a_rotation_by_another_process(tmp_path: Path) -> None:
    """A running vault sees the keyring a rotation wrote, without a restart."""
    path = tmp_path / "master.key"
    create(path)
    source = KeyringFile(path)
    vault = Vault(source)
    old_blob = vault.seal(b"before", BINDING)
    rotated = source.get().with_new_key()
    write_atomically(path, rotated)
    assert vault.current_key_id == rotated.current
    assert vault.open(old_blob, BINDING) == b"before"


def test_a_key_file_that_disappears_is_never_made_up_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A running process whose key file vanishes refuses to seal (and says so in the log,
    once) instead of sealing under a new key nobody has; the file put back works again."""
    path = tmp_path / "master.key"
    create(path)
    backup = path.read_bytes()
    vault = Vault(KeyringFile(path))
    before = vault.seal(b"before", BINDING)
    path.unlink()
    for _ in range(2):
        with pytest.raises(KeyFileError, match=rf"{path} is missing; restore it"):
            vault.seal(b"after", BINDING)
    assert not path.exists()
    gone = [r for r in caplog.records if "has disappeared" in r.getMessage()]
    assert [r.levelname for r in gone] == ["ERROR"]
    path.write_bytes(backup)
    path.chmod(0o600)
    assert vault.open(before, BINDING) == b"before"
    assert vault.open(vault.seal(b"after", BINDING), BINDING) == b"after"


def test_loading_a_missing_key_file_creates_nothing(tmp_path: Path) -> None:
    """Only `create` makes a key; reading a missing file is a refusal naming it."""
    path = tmp_path / "master.key"
    with pytest.raises(KeyFileError, match="restore it from your backup"):
        load(path)
    with pytest.raises(KeyFileError):
        KeyringFile(path).get()
    assert list(tmp_path.iterdir()) == []
