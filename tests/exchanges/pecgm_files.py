"""Build PECGM files for tests: synthetic records written by the project's writer, then bent.

`pecgm_bytes()` gives a valid file as bytes; tests break it with plain byte
replacements so each test shows exactly what is wrong with its file.
"""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

from exchanges.synthetic import fake_pecgm_records, write_pecgm

REFERENCE_DATE = date(2025, 1, 31)
DATA_DIR = Path(__file__).resolve().parent.parent / "data"
SAMPLE_PECGM = DATA_DIR / "PECGM_082_20250131_M.xml"
SAMPLE_CGPEM = DATA_DIR / "CGPEM_082_20250131_M.xml"


def records(count: int = 5, *, seed: int = 3, people=None) -> list[dict]:
    return list(fake_pecgm_records(people, count, seed=seed, reference_date=REFERENCE_DATE))


def pecgm_bytes(
    rows: list[dict] | None = None, *, count: int = 5, departement: str = "82", **header
) -> bytes:
    buffer = io.BytesIO()
    write_pecgm(
        buffer,
        records(count) if rows is None else rows,
        reference_date=header.pop("reference_date", REFERENCE_DATE),
        departement=departement,
        **header,
    )
    return buffer.getvalue()


def write(tmp_path: Path, content: bytes, name: str = "PECGM_082_20250131_M.xml") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def replace_once(content: bytes, old: bytes, new: bytes) -> bytes:
    assert content.count(old) >= 1, old
    return content.replace(old, new, 1)
