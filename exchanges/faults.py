"""Whose fault is it: a file's own, or the infrastructure's; and writing a record despite a restart.

A PECGM file is « rejeté » only for its own faults (structure, reject ratio,
stock size, header): the reader raises `FileRejected` for those, and the same
bytes would be refused again. Anything else that stops an import or an
exchange (the database connection lost, a full disk, a killed process, a
bug of ours) is the infrastructure's: the attempt is « interrompu », with its
cause said here in French, and the next attempt takes the file again.

The decision is taken on the exception's type (and `errno` for the disk),
never on a message's text.
"""

from __future__ import annotations

import errno
import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

T = TypeVar("T")

# A lost or refused database connection (server restarting, connection
# terminated, network cut): worth another try once the connection is renewed.
DATABASE_ERRORS = (OperationalError, InterfaceError)


class DiskFull(OSError):
    """No space left in a folder of ours; the message names the folder, in French."""

    def __init__(self, folder) -> None:
        super().__init__(
            errno.ENOSPC,
            _(
                "Disque plein : plus de place dans le dossier %(folder)s. "
                "Libérez de la place, l'échange reprendra."
            )
            % {"folder": folder},
        )
        self.folder = str(folder)

    def __str__(self) -> str:
        return self.strerror


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def is_database_error(exc: BaseException) -> bool:
    return isinstance(exc, DATABASE_ERRORS)


def infrastructure_cause(exc: BaseException) -> str:
    """The cause of an interruption, in French, for admins (never the exception's own text:
    a driver's message may quote values)."""
    if isinstance(exc, DiskFull):
        return str(exc)
    if is_disk_full(exc):
        folder = getattr(exc, "filename", None)
        if folder:
            return str(DiskFull(folder))
        return _("Disque plein : plus de place pour écrire. Libérez de la place, l'échange reprendra.")
    if is_database_error(exc):
        return _("Connexion à la base de données perdue (redémarrage ou coupure) : nouvel essai automatique.")
    if isinstance(exc, MemoryError):
        return _("Mémoire insuffisante sur le serveur.")
    return _("Erreur interne (%(type)s) : voir le journal du serveur.") % {"type": type(exc).__name__}


def close_broken_connection() -> None:
    """Drop the default connection after a database error, so that the next query opens a new one.

    Inside a transaction the connection cannot be swapped: the caller's
    transaction is lost anyway, and the error goes up to it.
    """
    if connection.in_atomic_block:
        return
    try:
        connection.close()
    except Exception:  # a dead connection may complain while closing: it is gone either way
        logger.debug("closing a broken database connection failed", exc_info=True)
        connection.connection = None


def durably(write: Callable[[], T], what: str) -> T:
    """Run `write` (a few queries), again on a new connection while the database is restarting.

    For the records that say how an attempt ended: a failure must not be lost
    because the database that caused it is still coming back. Gives up (and
    raises) after EXCHANGE_DB_RECOVERY_SECONDS, or at once inside a transaction.
    """
    deadline = time.monotonic() + settings.EXCHANGE_DB_RECOVERY_SECONDS
    delay = 0.2
    while True:
        try:
            return write()
        except DATABASE_ERRORS:
            if connection.in_atomic_block or time.monotonic() + delay > deadline:
                raise
            logger.warning("%s: database unavailable, trying again in %.1f s", what, delay)
            close_broken_connection()
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
