"""The hashed lock files agree with pyproject.toml, and every install goes through them."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def read_lock(name: str) -> dict[str, tuple[str, int]]:
    """{package: (version, number of hashes)} of a lock file."""
    pins: dict[str, tuple[str, int]] = {}
    current = None
    for line in (ROOT / name).read_text().splitlines():
        match = PIN.match(line)
        if match:
            current = canonicalize_name(match.group(1))
            pins[current] = (match.group(2), 0)
        elif current and line.strip().startswith("--hash=sha256:"):
            version, hashes = pins[current]
            pins[current] = (version, hashes + 1)
    return pins


RUNTIME = [Requirement(text) for text in PYPROJECT["project"]["dependencies"]]
DEV = [Requirement(text) for text in PYPROJECT["project"]["optional-dependencies"]["dev"]]


@pytest.mark.parametrize(
    ("lock", "requirements"),
    [("requirements.txt", RUNTIME), ("requirements-dev.txt", RUNTIME + DEV)],
)
def test_every_direct_dependency_is_pinned_within_its_range(lock, requirements):
    pins = read_lock(lock)
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in {lock}: run `make lock`"
        version, _ = pins[name]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{lock} pins {name}=={version}, outside {requirement.specifier}: run `make lock`"
        )


@pytest.mark.parametrize("lock", ["requirements.txt", "requirements-dev.txt"])
def test_every_pin_has_a_hash(lock):
    pins = read_lock(lock)
    assert len(pins) > 20  # the whole set, transitive dependencies included
    assert [name for name, (_, hashes) in pins.items() if hashes == 0] == []


def test_the_runtime_lock_is_the_dev_lock_less_the_dev_tools():
    runtime, dev = read_lock("requirements.txt"), read_lock("requirements-dev.txt")
    assert {name: dev.get(name, (None,))[0] for name in runtime} == {
        name: version for name, (version, _) in runtime.items()
    }


def test_installs_check_the_hashes():
    makefile = (ROOT / "Makefile").read_text()
    assert "--require-hashes" in makefile
    assert re.search(r"\$\(PIP_INSTALL\) -r requirements-dev\.txt", makefile)
    assert re.search(r"\$\(PIP_INSTALL\) -r requirements\.txt", makefile)
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "--require-hashes" in dockerfile and "-r requirements.txt" in dockerfile
    # The image installs nothing else from an index.
    assert "--no-index" in dockerfile
