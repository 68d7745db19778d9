"""docs/formats.md's field tables are generated from contract/layouts.py and must be up to date."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from contract.layouts import LAYOUTS
from exchanges.management.commands.layout_docs import DOCS_PATH, END, START, render


def test_committed_docs_are_up_to_date():
    call_command("layout_docs", "--check")


def test_generated_tables_cover_every_tag_and_code():
    text = render()
    for layout in LAYOUTS.values():
        for record in (layout.header, layout.detail, layout.footer):
            for path, item, _ in record.flat_fields():
                assert f"`{path[-1]}`" in text
                for code in item.codes or ():
                    assert f"`{code}`" in text


def test_check_fails_on_stale_docs_and_regeneration_fixes_them(tmp_path):
    stale = tmp_path / "formats.md"
    stale.write_text(DOCS_PATH.read_text(encoding="utf-8").replace("| `IDENTIFIANT_PE` |", "| `IDENT` |"))
    with pytest.raises(CommandError, match="pas à jour"):
        call_command("layout_docs", "--check", "--path", str(stale))
    call_command("layout_docs", "--path", str(stale))
    call_command("layout_docs", "--check", "--path", str(stale))
    assert stale.read_text(encoding="utf-8") == DOCS_PATH.read_text(encoding="utf-8")


def test_markers_are_required(tmp_path):
    broken = tmp_path / "formats.md"
    broken.write_text(f"# Formats\n{START}\n")
    with pytest.raises(CommandError, match="marqueurs"):
        call_command("layout_docs", "--path", str(broken))
    assert END not in broken.read_text()


def test_every_pecgm_value_has_a_title_for_the_pages():
    from contract.layouts import PECGM, PECGM_TITLES

    kept = [attr for _path, item, attr in PECGM.detail.flat_fields() if item.constant is None]
    assert sorted(PECGM_TITLES) == sorted(kept)
    # Written for people, not the file's capitals.
    assert not [attr for attr in kept if str(PECGM_TITLES[attr]).isupper() and attr != "nir"]


def test_the_project_s_pecgm_schema_follows_the_reading_policy():
    """Descriptive values have no length in the schema; identifying ones the bound of their shape."""
    from lxml import etree

    from contract.layouts import DESCRIPTIVE, PECGM
    from contract.xml_writer import SCHEMAS_DIR

    xs = "{http://www.w3.org/2001/XMLSchema}"
    detail = etree.parse(str(SCHEMAS_DIR / "pecgm.xsd")).find(f".//{xs}element[@name='DETAIL']")
    for path, item, _attr in PECGM.detail.flat_fields():
        element = detail
        for tag in path:
            element = element.find(f".//{xs}element[@name='{tag}']")
        bound = element.find(f".//{xs}maxLength")
        if item.role == DESCRIPTIVE:
            assert bound is None and element.find(f".//{xs}pattern") is None, path
        elif item.shape is not None:
            assert int(bound.get("value")) == item.shape.max_length, path
