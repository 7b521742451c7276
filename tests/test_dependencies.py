"""The locks in requirements/ are what pyproject.toml asks for, and what the tests run on.

A floor raised in pyproject.toml without `make lock`, a lock line without hashes, a
dev.lock whose runtime versions drift from run.lock, or a venv not installed from the
locks each fail here.
"""

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
LOCKS = ROOT / "requirements"
LOCK_NAMES = ("run.lock", "dev.lock", "pypinksign.lock")
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)((?:\s+--hash=sha256:[0-9a-f]{64})*)$")


def normalized(name: str) -> str:
    """PEP 503 name, as pip compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def entries(lock: str) -> list[str]:
    """The lock's requirements, each with its continuation lines joined, comments dropped."""
    text = (LOCKS / lock).read_text(encoding="utf-8")
    lines = [line.split("#", 1)[0].rstrip() for line in text.splitlines()]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    return [line.strip() for line in joined.splitlines() if line.strip()]


def pins(lock: str) -> dict[str, str]:
    """Package name to locked version."""
    found: dict[str, str] = {}
    for entry in entries(lock):
        match = _PIN.match(entry)
        assert match, f"{lock}: not an exact pin with hashes: {entry!r}"
        found[normalized(match[1])] = match[2]
    return found


def project() -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        table = tomllib.load(file)["project"]
    assert isinstance(table, dict)
    return table


@pytest.mark.parametrize("lock", LOCK_NAMES)
def test_every_locked_package_is_pinned_with_its_hashes(lock: str) -> None:
    for entry in entries(lock):
        match = _PIN.match(entry)
        assert match, f"{lock}: {entry!r}"
        assert match[3].count("--hash=sha256:") >= 1, f"{lock}: no hash for {match[1]}"


def test_run_lock_meets_every_runtime_floor() -> None:
    locked = pins("run.lock")
    dependencies = project()["dependencies"]
    assert isinstance(dependencies, list)
    for line in dependencies:
        requirement = Requirement(line)
        name = normalized(requirement.name)
        assert name in locked, f"{name} is not in run.lock: run `make lock`"
        assert requirement.specifier.contains(locked[name], prereleases=True), (
            f"run.lock has {name}=={locked[name]}, outside {requirement.specifier}: run `make lock`"
        )


def test_dev_lock_meets_the_dev_extra_and_keeps_run_lock_versions() -> None:
    run, dev = pins("run.lock"), pins("dev.lock")
    extras = project()["optional-dependencies"]
    assert isinstance(extras, dict)
    for line in extras["dev"]:
        requirement = Requirement(line)
        name = normalized(requirement.name)
        assert name in dev, f"{name} is not in dev.lock: run `make lock`"
        assert requirement.specifier.contains(dev[name], prereleases=True), name
    drifted = {name: (version, dev.get(name)) for name, version in run.items()}
    assert {name: pair for name, pair in drifted.items() if pair[0] != pair[1]} == {}


def test_pypinksign_lock_holds_pypinksign_alone() -> None:
    assert list(pins("pypinksign.lock")) == ["pypinksign"]


def test_the_tests_run_on_the_locked_versions() -> None:
    locked = {**pins("dev.lock"), **pins("pypinksign.lock")}
    installed = {name: metadata.version(name) for name in locked}
    assert {n: (v, installed[n]) for n, v in locked.items() if installed[n] != v} == {}
