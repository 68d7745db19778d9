"""Streaming XSD validation, in a second process for big files, never a guess."""

from __future__ import annotations

import io
import subprocess
from datetime import date

import pytest

from exchanges import xsd_stream
from exchanges.layouts import CGPEM
from exchanges.xml_writer import SCHEMAS_DIR, write_file

SCHEMA = SCHEMAS_DIR / "cgpem.xsd"
HEADER = {"periodicity": "M", "departement": "82", "reference_date": date(2025, 1, 31)}


def cgpem_bytes(count: int = 50, **changes) -> bytes:
    row = {
        "nir": "1850782186822",
        "birth_name": "Colas",
        "first_name": "Daniel",
        "birth_date": date(1985, 7, 13),
        "nature": "05",
        "decision_date": date(2025, 1, 15),
        "correspondent_phone": "0563000000",
    }
    rows = [row] * count
    if changes:
        rows = rows[:-1] + [row | changes]  # the fault in the last record
    buffer = io.BytesIO()
    write_file(CGPEM, HEADER, rows, buffer)
    return buffer.getvalue()


def check(tmp_path, content: bytes, chunk: int = 1000) -> tuple[xsd_stream.Verdict, bool]:
    """Write `content` through a ValidatingWriter; (verdict, whether a second process checked it)."""
    path = tmp_path / "out.xml"
    with open(path, "wb") as handle:
        writer = xsd_stream.ValidatingWriter(handle, path, SCHEMA, CGPEM.name, CGPEM.detail.tag)
        try:
            for start in range(0, len(content), chunk):
                writer.write(content[start : start + chunk])
            second_process = writer.process is not None
            return writer.verdict(), second_process
        finally:
            writer.close()


@pytest.fixture
def second_process(monkeypatch):
    """Check in a second process from the first byte."""
    monkeypatch.setattr(xsd_stream, "SECOND_PROCESS_FROM", 1)


def test_a_small_file_is_checked_in_process(tmp_path):
    assert check(tmp_path, cgpem_bytes()) == (xsd_stream.Verdict(True), False)
    assert check(tmp_path, cgpem_bytes(first_name="Jean2")) == (xsd_stream.Verdict(False, "PRENOM"), False)


def test_a_valid_file_is_valid_in_the_second_process(tmp_path, second_process):
    assert check(tmp_path, cgpem_bytes(300)) == (xsd_stream.Verdict(True), True)
    assert (tmp_path / "out.xml").read_bytes() == cgpem_bytes(300)  # the file got every byte


def test_the_second_process_names_the_faulty_element_not_its_value(tmp_path, second_process):
    verdict, second = check(tmp_path, cgpem_bytes(300, correspondent_phone="05630000"))
    assert second and verdict == xsd_stream.Verdict(False, "TEL_CORRESPONDANT")


def test_a_fault_early_in_a_big_file_stops_the_second_process_without_breaking_the_writing(
    tmp_path, second_process
):
    content = cgpem_bytes(1).replace(b"<PRENOM>Daniel", b"<PRENOM>Daniel2") + b" " * 300_000
    # Not a valid document either way (and the writer keeps writing after the checker has stopped).
    verdict, second = check(tmp_path, content)
    assert second and verdict == xsd_stream.Verdict(False, "PRENOM")
    assert (tmp_path / "out.xml").stat().st_size == len(content)


def test_a_truncated_file_is_invalid(tmp_path, second_process):
    content = cgpem_bytes(300)
    verdict, second = check(tmp_path, content[: len(content) // 2])
    assert second and not verdict.valid


def test_content_after_the_root_is_invalid(tmp_path, second_process):
    verdict, _second = check(tmp_path, cgpem_bytes(300) + b"<CGPEM/>")
    assert not verdict.valid


@pytest.mark.parametrize("content", [cgpem_bytes(300), cgpem_bytes(300, first_name="Jean2")])
def test_a_second_process_that_dies_without_a_verdict_leaves_the_decision_to_the_file(
    tmp_path, second_process, monkeypatch, content
):
    real_popen = subprocess.Popen

    def crashing(command, **kwargs):
        return real_popen([command[0], "-c", "import sys; sys.stdin.read(10); sys.exit(1)"], **kwargs)

    monkeypatch.setattr(xsd_stream.subprocess, "Popen", crashing)
    verdict, second = check(tmp_path, content)
    assert second
    expected = b"Jean2" not in content
    assert verdict.valid is expected


def test_a_second_process_that_cannot_start_leaves_the_decision_to_the_file(
    tmp_path, second_process, monkeypatch
):
    def failing(command, **kwargs):
        raise OSError("no more processes")

    monkeypatch.setattr(xsd_stream.subprocess, "Popen", failing)
    assert check(tmp_path, cgpem_bytes(300)) == (xsd_stream.Verdict(True), False)
    assert check(tmp_path, cgpem_bytes(300, first_name="Jean2")) == (
        xsd_stream.Verdict(False, "PRENOM"),
        False,
    )


def test_close_stops_the_second_process(tmp_path, second_process):
    path = tmp_path / "out.xml"
    with open(path, "wb") as handle:
        writer = xsd_stream.ValidatingWriter(handle, path, SCHEMA, CGPEM.name, CGPEM.detail.tag)
        writer.write(cgpem_bytes(300)[:5000])
        process = writer.process
        writer.close()
    assert process.returncode is not None and writer.process is None


@pytest.mark.parametrize("cut", [100, 5000, -10, -1])
def test_a_truncated_file_is_invalid_in_process_too(tmp_path, cut):
    content = cgpem_bytes(300)
    verdict, second = check(tmp_path, content[:cut])
    assert not second and not verdict.valid
