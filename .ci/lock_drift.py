"""Print the installed packages whose version differs from a lock file (used by `make test-latest`).

    python .ci/lock_drift.py requirements-dev.txt

A locked package whose environment marker does not apply here (Windows only,
an older Python) is not expected to be installed; the project itself is not
locked.
"""

import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker

LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def main(lock_path: str) -> None:
    locked = {}
    with open(lock_path, encoding="utf-8") as lock:
        lines = lock.readlines()
    for line in lines:
        match = LINE.match(line)
        if match and (not match.group(3) or Marker(match.group(3)).evaluate()):
            locked[normalise(match.group(1))] = match.group(2)
    project = tomllib.loads(Path("pyproject.toml").read_text())["project"]["name"]
    ignored = {"pip", "setuptools", "wheel", normalise(project)}
    installed = {normalise(dist.metadata["Name"]): dist.version for dist in metadata.distributions()}
    rows = []
    for name in sorted(locked.keys() | installed.keys()):
        old, new = locked.get(name), installed.get(name)
        if old != new and name not in ignored:
            rows.append(f"  {name}: {old or '(not locked)'} -> {new or '(not installed)'}")
    print("\n".join(rows) if rows else "  none: the lock holds the newest versions")


if __name__ == "__main__":
    main(sys.argv[1])
