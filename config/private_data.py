"""The embedded mode's data folder holds every NIR (the SQLite database) and the secret key:
the service account's only, from the moment each is created.

Created with their final mode, never created then chmod-ed (someone could open them in
between), whatever the process's umask. A folder or file that exists already, left readable
by others by an earlier version, is tightened when it is ours; a shared folder (sticky bit,
like /tmp) or someone else's is left alone, and `check --deploy` says so.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
OTHERS = 0o077


def _tighten(path: Path) -> None:
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & stat.S_ISVTX:
        return
    if stat.S_IMODE(info.st_mode) & OTHERS:
        os.chmod(path, stat.S_IMODE(info.st_mode) & ~OTHERS)


def private_dir(path: Path, *, tighten: bool = True) -> None:
    """Create `path` (and missing parents) 0700; tighten it if it exists and is ours."""
    if not path.exists():
        path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        os.chmod(path, PRIVATE_DIR)  # mkdir's mode went through the umask
    elif tighten:
        _tighten(path)


def private_file(path: Path, content: str | None = None) -> bool:
    """Create `path` 0600 (empty, or with `content`) if absent, else tighten it; True if created."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        descriptor = os.open(path, flags, PRIVATE_FILE)
    except FileExistsError:
        _tighten(path)
        return False
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        if content:
            handle.write(content)
    return True


def open_to_others(path: Path) -> bool:
    """Whether group or others may read or enter `path` (False when it does not exist)."""
    try:
        return bool(stat.S_IMODE(path.stat().st_mode) & OTHERS)
    except FileNotFoundError:
        return False
