"""Print the installed packages whose version differs from a lock file (used by `make test-latest`).

python .ci/lock_drift.py requirements-dev.txt
"""

import re
import sys
from importlib import metadata


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def main(lock_path: str) -> None:
    locked = {}
    with open(lock_path, encoding="utf-8") as lock:
        lines = lock.readlines()
    for line in lines:
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", line)
        if match:
            locked[normalise(match.group(1))] = match.group(2)
    installed = {normalise(dist.metadata["Name"]): dist.version for dist in metadata.distributions()}
    rows = []
    for name in sorted(locked.keys() | installed.keys()):
        old, new = locked.get(name), installed.get(name)
        if old != new and name not in {"pip", "setuptools", "wheel"}:
            rows.append(f"  {name}: {old or '(not locked)'} -> {new or '(not installed)'}")
    print("\n".join(rows) if rows else "  none: the lock holds the newest versions")


if __name__ == "__main__":
    main(sys.argv[1])
