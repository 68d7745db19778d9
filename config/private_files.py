"""Files that hold personal data (PECGM received, CGPEM produced, exports) are the service
account's only: mode 0600, whatever the process's umask.

In the Docker image only the application's user exists; on a server installed by hand,
other accounts could otherwise read every NIR of the Département in the archive.

Beside config.private_data (the embedded mode's data folder, same rule): a module of the
base layer that imports no app, so that the contract's writer, the exchanges, the CGPEM
build, the audit's and the rights' exports all open their files through it without
importing one another.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

from config.private_data import PRIVATE_FILE as PRIVATE


def open_private(path: Path | str):
    """A new (or emptied) file for writing bytes, created 0600."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE), "wb")


class OutputExists(FileExistsError):
    """The output path names an existing file or link: an export never writes through it."""


def create_private(path: Path | str):
    """A NEW file for writing bytes, 0600, for an operator's export or report.

    Created exclusively: an existing file (whose mode others may read, or that
    others may have opened already) is never reused, and a symbolic link in its
    place is never followed, wherever it points. Raises OutputExists.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        descriptor = os.open(path, flags, PRIVATE)
    except FileExistsError:
        raise OutputExists(path) from None
    # The umask can only take bits away; set them on the descriptor anyway, so that nothing
    # between the creation and this point decides the mode.
    os.fchmod(descriptor, PRIVATE)
    return os.fdopen(descriptor, "wb")


def create_private_text(path: Path | str, *, encoding: str = "utf-8", newline: str | None = None):
    """create_private, for text (every NIR, or one person's file)."""
    return io.TextIOWrapper(create_private(path), encoding=encoding, newline=newline)


def copy_private(source: Path | str, target: Path | str) -> None:
    """Copy `source` to `target`, which ends up 0600 (its content is never readable by others)."""
    with open(source, "rb") as src, open_private(target) as dst:
        shutil.copyfileobj(src, dst)
    os.chmod(target, PRIVATE)  # an existing target kept its mode through O_TRUNC
