"""A full disk: said in French with the folder, nothing truncated left under a real name, retried.

The files folder is a real small filesystem (a tmpfs mounted for the test), not a mock.
"""

from __future__ import annotations

import subprocess
from datetime import date
from pathlib import Path

import pytest

from exchanges.models import ImportRun
from exchanges.synthetic import fake_pecgm_records, write_pecgm
from exchanges.tasks import fetch_pecgm
from tests.conftest import need_service

pytestmark = pytest.mark.django_db(transaction=True)

JAN = date(2025, 1, 31)
NAME = "PECGM_082_20250131_M.xml"


@pytest.fixture
def small_disk(tmp_path, settings):
    """EXCHANGE_FILES_DIR on a tmpfs of `size` bytes; `grow()` gives it room again."""
    folder = tmp_path / "small-disk"
    folder.mkdir()
    mounted = []

    def mount(size: int) -> Path:
        options = f"size={size}" if not mounted else f"remount,size={size}"
        result = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True
        )
        need_service(result.returncode == 0, "needs to mount a small tmpfs (root)")
        mounted.append(size)
        return folder

    settings.EXCHANGE_FILES_DIR = folder
    settings.EXCHANGE_MIN_FREE_DISK = 0  # the file's own size is still checked before downloading
    yield mount
    if mounted:
        subprocess.run(["umount", str(folder)], check=False)


def _publish(server, tmp_path) -> int:
    path = tmp_path / NAME
    write_pecgm(path, fake_pecgm_records(None, 200, seed=3, reference_date=JAN), reference_date=JAN)
    server.publish("082", NAME, path.read_bytes())
    return path.stat().st_size


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_the_archive_copy_fills_the_disk(exchange_settings, exchange_server, tmp_path, small_disk):
    size = _publish(exchange_server, tmp_path)
    folder = small_disk(int(size * 1.5))  # the download fits, its archive copy does not
    summary = fetch_pecgm.delay(started_by="beat").get()
    assert summary["status"] == "interrupted", summary
    assert summary["error"].startswith("Interrompu : Disque plein : plus de place dans le dossier")
    assert str(folder / "pecgm") in summary["error"]
    assert _files(folder) == []  # neither the download nor a truncated archive is left
    assert not ImportRun.objects.exists()

    small_disk(size * 4)  # room again: the next fetch takes the file
    summary = fetch_pecgm.delay(started_by="beat").get()
    assert summary["status"] == "succeeded", summary
    assert _files(folder) == [f"pecgm/{NAME}"]
    assert (folder / "pecgm" / NAME).stat().st_size == size


def test_the_download_fills_the_disk(exchange_settings, exchange_server, tmp_path, small_disk):
    size = _publish(exchange_server, tmp_path)
    folder = small_disk(size // 2)
    summary = fetch_pecgm.delay(started_by="beat").get()
    assert summary["status"] == "interrupted", summary
    assert "Disque plein" in summary["error"] and str(folder / "incoming") in summary["error"]
    assert _files(folder) == []
