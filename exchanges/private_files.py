"""Files that hold personal data (PECGM received, CGPEM produced, exports) are the service
account's only: mode 0600, whatever the process's umask.

In the Docker image only the application's user exists; on a server installed by hand,
other accounts could otherwise read every NIR of the Département in the archive.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

PRIVATE = 0o600


def open_private(path: Path | str):
    """A new (or emptied) file for writing bytes, created 0600."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE), "wb")


def copy_private(source: Path | str, target: Path | str) -> None:
    """Copy `source` to `target`, which ends up 0600 (its content is never readable by others)."""
    with open(source, "rb") as src, open_private(target) as dst:
        shutil.copyfileobj(src, dst)
    os.chmod(target, PRIVATE)  # an existing target kept its mode through O_TRUNC
