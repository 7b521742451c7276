"""`bot.config.load_settings(path, environ)`: file, defaults, environment overrides, errors.

The contract is ARCHITECTURE.md, "Configuration": `--config PATH`, else
`./config.toml` if present, else built-in defaults; every setting can be
overridden by `CERTMATE_<SECTION>__<KEY>`; an unknown section or key, or a
value of the wrong type, is an error that names it.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

import npki
from bot.app import load_ca_certificates
from bot.config import ConfigError, LimitsSettings, Settings, load_settings
from tests import factory

REPO = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024
DOCUMENTED_LIMITS = {
    "upload_bytes": 1 * MIB,
    "zip_entries": 64,
    "zip_uncompressed_bytes": 4 * MIB,
    "zip_ratio": 100,
    "kdf_iterations_max": 100_000,
    "kdf_total_iterations": 1_000_000,
    "trailing_bytes": 4096,
}
CHAT_LIMITS = {
    "messages_per_minute": 20,
    "held_files": 8,
    "held_bytes": 2 * MIB,
    "certificates_per_user": 50,
    "open_links_per_user": 5,
    "buttons_per_user": 200,
    "password_tries": 5,
    "password_tries_per_user": 20,
}


def write_config(folder: Path, text: str, name: str = "config.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)  # as a file with secrets must be
    return path


# --- where settings come from -----------------------------------------------------


def test_defaults_without_any_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No --config and no ./config.toml: the documented built-in defaults."""
    monkeypatch.chdir(tmp_path)
    settings = load_settings(None, {})
    assert settings == Settings()
    assert dataclasses.asdict(settings.limits) == DOCUMENTED_LIMITS | CHAT_LIMITS


def test_config_toml_in_current_folder_is_picked_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a path, ./config.toml is read when present; keys it omits keep defaults."""
    write_config(tmp_path, "[limits]\nupload_bytes = 2048\n")
    monkeypatch.chdir(tmp_path)
    limits = load_settings(None, {}).limits
    assert limits.upload_bytes == 2048
    assert limits.zip_entries == DOCUMENTED_LIMITS["zip_entries"]


def test_explicit_path_wins_over_config_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An explicit path is read instead of ./config.toml, not merged with it."""
    write_config(tmp_path, "[limits]\nupload_bytes = 2048\nzip_entries = 5\n")
    chosen = write_config(tmp_path, "[limits]\nupload_bytes = 4096\n", "chosen.toml")
    monkeypatch.chdir(tmp_path)
    limits = load_settings(chosen, {}).limits
    assert limits.upload_bytes == 4096
    assert limits.zip_entries == DOCUMENTED_LIMITS["zip_entries"]


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    """An empty config file is valid and means defaults."""
    assert load_settings(write_config(tmp_path, ""), {}) == Settings()


def test_every_limit_can_be_set_from_the_file(tmp_path: Path) -> None:
    """Every [limits] key documented in the contract is read from the file."""
    values = {name: value + 7 for name, value in (DOCUMENTED_LIMITS | CHAT_LIMITS).items()}
    text = "[limits]\n" + "".join(f"{k} = {v}\n" for k, v in values.items())
    assert dataclasses.asdict(load_settings(write_config(tmp_path, text), {}).limits) == values


def test_example_config_documents_every_key_and_its_defaults() -> None:
    """config.example.toml loads cleanly, names every setting, and its values are the defaults."""
    example = REPO / "config.example.toml"
    settings = load_settings(example, {})
    assert settings == Settings()
    with example.open("rb") as file:
        raw = tomllib.load(file)
    for section in dataclasses.fields(Settings):
        documented = set(raw.get(section.name, {}))
        expected = {f.name for f in dataclasses.fields(getattr(settings, section.name))}
        assert documented == expected, section.name


# --- file errors ---------------------------------------------------------------------


def test_explicit_path_missing_is_an_error(tmp_path: Path) -> None:
    """An explicit path that does not exist is an error naming it (no silent defaults)."""
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(ConfigError, match=r"nowhere\.toml"):
        load_settings(missing, {})


def test_explicit_path_to_a_folder_is_an_error(tmp_path: Path) -> None:
    """A folder given as the config path is a ConfigError, not an OSError."""
    with pytest.raises(ConfigError):
        load_settings(tmp_path, {})


@pytest.mark.parametrize(
    "text",
    ["[limits\nupload_bytes = 1\n", "[limits]\nupload_bytes = \n", "[limits]\nupload_bytes 5\n"],
    ids=["unclosed-header", "missing-value", "missing-equals"],
)
def test_toml_syntax_error_is_an_error(tmp_path: Path, text: str) -> None:
    """A file that is not valid TOML is a ConfigError naming the file."""
    path = write_config(tmp_path, text, "broken.toml")
    with pytest.raises(ConfigError, match=r"broken\.toml"):
        load_settings(path, {})


def test_file_not_utf8_is_an_error(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 are a ConfigError, not a UnicodeDecodeError."""
    path = tmp_path / "latin.toml"
    path.write_bytes(b"# caf\xe9\n[limits]\n")
    with pytest.raises(ConfigError):
        load_settings(path, {})


def test_unknown_section_is_an_error_naming_it(tmp_path: Path) -> None:
    """A section no setting belongs to is an error naming the section."""
    path = write_config(tmp_path, "[limitz]\nupload_bytes = 5\n")
    with pytest.raises(ConfigError, match="limitz"):
        load_settings(path, {})


def test_unknown_key_is_an_error_naming_it(tmp_path: Path) -> None:
    """A typo in a key is an error naming the key, never a silent default."""
    path = write_config(tmp_path, "[limits]\nkdf_iteration_max = 1000\n")
    with pytest.raises(ConfigError, match="kdf_iteration_max"):
        load_settings(path, {})


def test_section_that_is_not_a_table_is_an_error(tmp_path: Path) -> None:
    """`limits = 5` (a value where a table belongs) is an error naming the section."""
    path = write_config(tmp_path, "limits = 5\n")
    with pytest.raises(ConfigError, match="limits"):
        load_settings(path, {})


@pytest.mark.parametrize(
    "value",
    ['"1048576"', "true", "false", "1.5", "1e6", "0", "-1", "[1]", "{ a = 1 }"],
    ids=["string", "true", "false", "float", "exponent", "zero", "negative", "array", "table"],
)
def test_wrong_type_or_out_of_range_is_an_error_naming_the_key(tmp_path: Path, value: str) -> None:
    """An integer setting given a string, a bool, a float, an array, a table, 0 or a negative
    number is an error naming the key."""
    path = write_config(tmp_path, f"[limits]\nzip_entries = {value}\n")
    with pytest.raises(ConfigError, match="zip_entries"):
        load_settings(path, {})


# --- environment overrides ---------------------------------------------------------------


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    """CERTMATE_LIMITS__UPLOAD_BYTES wins over the file; other file keys are kept."""
    path = write_config(tmp_path, "[limits]\nupload_bytes = 100\nzip_entries = 9\n")
    limits = load_settings(path, {"CERTMATE_LIMITS__UPLOAD_BYTES": "2097152"}).limits
    assert limits.upload_bytes == 2097152
    assert limits.zip_entries == 9


def test_environment_applies_without_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An override applies on top of the built-in defaults too."""
    monkeypatch.chdir(tmp_path)
    limits = load_settings(None, {"CERTMATE_LIMITS__KDF_ITERATIONS_MAX": "1000"}).limits
    assert limits.kdf_iterations_max == 1000
    assert limits.upload_bytes == DOCUMENTED_LIMITS["upload_bytes"]


def test_environment_comes_from_the_argument_not_the_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the `environ` passed in is read: the process environment does not leak in."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CERTMATE_LIMITS__UPLOAD_BYTES", "5")
    assert load_settings(None, {}).limits.upload_bytes == DOCUMENTED_LIMITS["upload_bytes"]


def test_unrelated_variables_are_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Variables without the CERTMATE_ prefix, even shaped like overrides, change nothing."""
    monkeypatch.chdir(tmp_path)
    environ = {"PATH": "/bin", "LIMITS__UPLOAD_BYTES": "5", "OTHER_LIMITS__ZIP_RATIO": "x"}
    assert load_settings(None, environ) == Settings()


@pytest.mark.parametrize("value", ["lots", "", "1.5", "0", "-3", "true", "0x10"], ids=repr)
def test_bad_environment_value_is_an_error_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """An override that is not a whole number ≥ 1 is an error naming the variable."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="CERTMATE_LIMITS__UPLOAD_BYTES"):
        load_settings(None, {"CERTMATE_LIMITS__UPLOAD_BYTES": value})


def test_unknown_key_in_environment_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A typo in an override's key is an error naming it, not silently ignored."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"(?i)upload_byte"):
        load_settings(None, {"CERTMATE_LIMITS__UPLOAD_BYTE": "5"})


def test_override_of_a_section_that_is_not_a_table_is_a_config_error(tmp_path: Path) -> None:
    """`limits = 5` in the file plus CERTMATE_LIMITS__UPLOAD_BYTES is a ConfigError."""
    path = write_config(tmp_path, "limits = 5\n")
    with pytest.raises(ConfigError, match="limits"):
        load_settings(path, {"CERTMATE_LIMITS__UPLOAD_BYTES": "5"})


# --- handing the limits to npki -------------------------------------------------------


def test_limits_map_to_npki_limits_field_by_field() -> None:
    """settings.limits.npki() is an npki.Limits carrying every configured value."""
    values = {name: value * 3 for name, value in DOCUMENTED_LIMITS.items()}
    limits = LimitsSettings(**values).npki()
    assert isinstance(limits, npki.Limits)
    for name, value in values.items():
        assert getattr(limits, name) == value, name


def test_default_limits_are_npki_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no configuration the limits handed to npki are npki's own defaults."""
    monkeypatch.chdir(tmp_path)
    assert load_settings(None, {}).limits.npki() == npki.DEFAULT_LIMITS


def test_loaded_limits_reach_npki(tmp_path: Path) -> None:
    """A value from the file and one from the environment both reach npki.Limits."""
    path = write_config(tmp_path, "[limits]\nzip_ratio = 42\n")
    environ = {"CERTMATE_LIMITS__KDF_ITERATIONS_MAX": "1000"}
    limits = load_settings(path, environ).limits.npki()
    assert limits.zip_ratio == 42
    assert limits.kdf_iterations_max == 1000


# --- [kakao] ------------------------------------------------------------------------

KAKAO_SECRET = "sixteen-chars-or-more"  # noqa: S105  (a test value)


def test_kakao_from_the_file(tmp_path: Path) -> None:
    """Booleans and lists of text are read as such."""
    path = write_config(
        tmp_path,
        f'[kakao]\nenabled = true\nsecret = "{KAKAO_SECRET}"\nbot_ids = ["a1!", "b2"]\n',
    )
    kakao = load_settings(path, {}).kakao
    assert kakao.enabled is True
    assert kakao.bot_ids == ("a1!", "b2")
    assert kakao.event_bot == "a1!"


def test_kakao_from_the_environment(tmp_path: Path) -> None:
    """`CERTMATE_KAKAO__ENABLED=true` and a comma-separated `BOT_IDS` work from the
    environment, as containers set them."""
    env = {
        "CERTMATE_KAKAO__ENABLED": "true",
        "CERTMATE_KAKAO__SECRET": KAKAO_SECRET,
        "CERTMATE_KAKAO__BOT_IDS": "a1!, b2",
    }
    kakao = load_settings(write_config(tmp_path, ""), env).kakao
    assert (kakao.enabled, kakao.bot_ids) == (True, ("a1!", "b2"))
    off = load_settings(write_config(tmp_path, ""), {"CERTMATE_KAKAO__ENABLED": "no"}).kakao
    assert off.enabled is False


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("enabled = true", "[kakao] secret must be set"),
        ('enabled = true\nsecret = "short"', "[kakao] secret must be set"),
        ('enabled = "yes"', "[kakao] enabled must be true or false"),
        ("bot_ids = [1, 2]", "[kakao] bot_ids must be a list of texts"),
        ('path = "kakao"', "[kakao] path must start with /"),
        ('secret_header = "X Bad: header"', "[kakao] secret_header must be an HTTP header name"),
        ('event_api_key = "k"', "[kakao] event_api_key needs event_bot_id"),
        ("event_per_second = 0", "[kakao] event_per_second must be a number above 0"),
        ("event_per_second = -2.5", "[kakao] event_per_second must be a number above 0"),
        ("event_per_second = inf", "[kakao] event_per_second must be a number above 0"),
        ("event_per_second = nan", "[kakao] event_per_second must be a number above 0"),
        ('event_per_second = "5"', "[kakao] event_per_second must be a number"),
        ("event_per_second = true", "[kakao] event_per_second must be a number"),
    ],
)
def test_kakao_mistakes_are_errors_naming_the_key(tmp_path: Path, text: str, says: str) -> None:
    """Kakao on without a secret is refused: Kakao does not sign skill requests."""
    with pytest.raises(ConfigError, match=re.escape(says)):
        load_settings(write_config(tmp_path, f"[kakao]\n{text}\n"), {})


def test_kakao_event_rate_is_a_number_from_the_file_or_the_environment(tmp_path: Path) -> None:
    """`[kakao] event_per_second` takes whole numbers and fractions (a rate under one a
    second), from the file or the environment; its default is 5."""
    assert Settings().kakao.event_per_second == 5
    from_file = load_settings(write_config(tmp_path, "[kakao]\nevent_per_second = 2\n"), {})
    assert from_file.kakao.event_per_second == 2.0
    env = {"CERTMATE_KAKAO__EVENT_PER_SECOND": "0.5"}
    assert load_settings(write_config(tmp_path, ""), env).kakao.event_per_second == 0.5


@pytest.mark.parametrize("value", ["fast", "", "1/s"])
def test_a_bad_event_rate_in_the_environment_names_the_variable(tmp_path: Path, value: str) -> None:
    """An event rate that is not a number names the variable it came from."""
    env = {"CERTMATE_KAKAO__EVENT_PER_SECOND": value}
    with pytest.raises(ConfigError, match="CERTMATE_KAKAO__EVENT_PER_SECOND"):
        load_settings(write_config(tmp_path, ""), env)


def test_a_bad_boolean_in_the_environment_names_the_variable(tmp_path: Path) -> None:
    """Only true/false (1/0, yes/no) are booleans; anything else names the variable."""
    with pytest.raises(ConfigError, match="CERTMATE_KAKAO__ENABLED"):
        load_settings(write_config(tmp_path, ""), {"CERTMATE_KAKAO__ENABLED": "maybe"})


def test_operator_ca_certificates_are_read_and_a_missing_one_refused(tmp_path: Path) -> None:
    """`[npki] ca_certificates` lists CA certificate files (PEM or DER); a file that
    cannot be read stops the start with its name, never a silently weaker check."""
    ca = factory.make_ca("yessign")
    pem = tmp_path / "yessign.pem"
    pem.write_bytes(ca.cert.public_bytes(serialization.Encoding.PEM))
    der = tmp_path / "yessign.der"
    der.write_bytes(factory.cert_der(ca.cert))
    config = write_config(tmp_path, f'[npki]\nca_certificates = ["{pem}", "{der}"]\n')
    settings = load_settings(config, {})
    assert load_ca_certificates(settings.npki.ca_certificates) == (ca.cert, ca.cert)
    with pytest.raises(ConfigError, match=r"missing\.der"):
        load_ca_certificates((str(tmp_path / "missing.der"),))
