"""The embedded mode's private files, made by an explicit step rather than at settings import.

Importing the settings writes nothing (a test, a linter or `python -c` that loads them leaves
no folder behind). The entry points that run the application call `prepare()` first:
`manage.py` (so `make run`, `migrate`, `seed_demo`, `run_demo`), the WSGI application and the
Celery worker and beat. It makes, each with its final mode (config/private_data.py):

- DATA_DIR, 0700 (every NIR lives under it); in production the folder is made if missing and
  its mode left to the operator (`check --deploy` looks at it, liaison.W001);
- in embedded mode without SECRET_KEY, one random key per installation in DATA_DIR/secret_key,
  0600, kept so that sessions survive a restart (never shared, never committed: data/ is
  ignored), and given to the settings read at import found none;
- the SQLite database file, empty and 0600, before SQLite opens it (it would make it 0644);
  its -wal and -shm files take the database's mode.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from django.conf import settings

from config.private_data import private_dir, private_file


def read_secret_key(path: Path) -> str:
    """The installation's key kept in `path`, or "" when `prepare()` has not made it yet."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return ""


def prepare() -> None:
    """Make the data folder, the embedded key and the SQLite file (idempotent; see the module)."""
    data_dir = Path(settings.DATA_DIR)
    private_dir(data_dir, tighten=not settings.PRODUCTION)
    if settings.PRODUCTION:
        return
    if settings.SECRET_KEY_FILE:  # embedded mode without SECRET_KEY (config/settings.py)
        private_file(settings.SECRET_KEY_FILE, secrets.token_urlsafe(64))
        settings.SECRET_KEY = read_secret_key(settings.SECRET_KEY_FILE)
    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database_file = Path(str(database["NAME"]))
        if str(database_file) not in ("", ":memory:") and database_file.parent.is_dir():
            private_file(database_file)
