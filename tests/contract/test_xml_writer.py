"""The layout-driven writer: valid against the XSD, readable by the reader, strict about encoding."""

from __future__ import annotations

import io
from datetime import date, datetime

import pytest
from lxml import etree

from contract.departement import departement_on_three
from contract.layouts import CGPEM, PECGM
from contract.xml_writer import (
    FRAGMENT,
    ForbiddenCharacter,
    Fragment,
    UnencodableValue,
    format_value,
    schema_for,
    write_file,
)
from exchanges.pecgm_reader import read_pecgm
from tests.exchanges.pecgm_files import REFERENCE_DATE, SAMPLE_CGPEM, SAMPLE_PECGM, records

HEADER = {"periodicity": "M", "departement": "82", "reference_date": REFERENCE_DATE}


def written(layout, rows, **header) -> bytes:
    buffer = io.BytesIO()
    write_file(layout, HEADER | header, rows, buffer)
    return buffer.getvalue()


def test_output_validates_against_the_xsd_and_round_trips(tmp_path):
    rows = records(60)
    path = tmp_path / "PECGM_082_20250131_M.xml"
    assert write_file(PECGM, HEADER | {"production_date": date(2025, 2, 3)}, rows, path) == 60
    schema_for(PECGM).assertValid(etree.parse(str(path)))
    reader = read_pecgm(path, departement="82")
    assert reader.header.production_date == date(2025, 2, 3)
    parsed = list(reader.records())
    assert [record.values["ft_identifier"] for record in parsed] == [row["ft_identifier"] for row in rows]
    assert not [record for record in parsed if record.errors]
    assert reader.footer.record_count == 60
    assert not list(tmp_path.glob(".*.tmp"))


def test_shared_samples_validate_against_the_project_copies_of_the_xsd():
    schema_for(PECGM).assertValid(etree.parse(str(SAMPLE_PECGM)))
    schema_for(CGPEM).assertValid(etree.parse(str(SAMPLE_CGPEM)))


def test_header_footer_dates_and_departement_on_three_characters():
    content = written(PECGM, records(2), production_date=date(2025, 2, 3))
    root = etree.fromstring(content)
    assert content.startswith(b"<?xml version='1.0' encoding='ISO-8859-1'?>")
    assert [child.tag for child in root] == ["ENTETE", "DETAIL", "DETAIL", "FIN"]
    header, footer = root[0], root[-1]
    assert [(child.tag, child.text) for child in header] == [
        ("TYPE_ENREGISTREMENT", "E"),
        ("FICHIER", "PECG"),
        ("PERIODICITE", "M"),
        ("DEPARTEMENT", "082"),
        ("DATE_REFERENCE", "20250131"),
        ("DATE_FABRICATION", "20250203"),
        ("VERSION", "001,0"),
    ]
    assert [(child.tag, child.text) for child in footer] == [
        ("TYPE_ENREGISTREMENT", "F"),
        ("DEPARTEMENT", "082"),
        ("DATE_REFERENCE", "20250131"),
        ("NB_ENREGISTREMENTS", "2"),
    ]


def test_empty_optional_elements_and_address_groups_are_omitted():
    row = {
        "birth_name": "DURAND",
        "first_name": "LÉA",
        "birth_date": date(1990, 5, 4),
        "usage_name": "",
        "nir": None,
        "main_structure_name": "FRANCE TRAVAIL MOISSAC",
        "main_structure_postcode": "82200",
    }
    detail = etree.fromstring(written(PECGM, [row]))[1]
    assert [child.tag for child in detail] == [
        "TYPE_ENREGISTREMENT",
        "NOM_NAISSANCE",
        "PRENOM",
        "DATE_NAISSANCE",
        "STRUCTURE_PRINCIPALE_SUIVI",
    ]
    assert detail.findtext("DATE_NAISSANCE") == "19900504"
    assert [(c.tag, c.text) for c in detail.find("STRUCTURE_PRINCIPALE_SUIVI")] == [
        ("NOM", "FRANCE TRAVAIL MOISSAC"),
        ("CODE_POSTAL", "82200"),
    ]


def test_required_element_without_value_is_written_empty_not_invented():
    detail = etree.fromstring(written(PECGM, [{"birth_name": "X"}]))[1]
    assert detail.find("PRENOM") is not None and not detail.findtext("PRENOM")


def test_unencodable_character_raises_and_leaves_no_file(tmp_path):
    rows = records(3)
    rows[2]["birth_name"] = "BŒUF"
    path = tmp_path / "out.xml"
    with pytest.raises(UnencodableValue) as caught:
        write_file(PECGM, HEADER, rows, path)
    assert (caught.value.record, caught.value.field) == (3, "NOM_NAISSANCE")
    assert "U+0152" in str(caught.value) and "ISO-8859-1" in str(caught.value)
    assert "BŒUF" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_unencodable_character_in_an_address():
    rows = records(1)
    rows[0]["main_structure_street"] = "RUE D’ARMAGNAC"
    with pytest.raises(UnencodableValue) as caught:
        written(PECGM, rows)
    assert caught.value.field == "STRUCTURE_PRINCIPALE_SUIVI/LIBELLE_VOIE"


def test_other_encoding_writes_anything_encodable():
    rows = records(1)
    rows[0]["birth_name"] = "BŒUF"
    buffer = io.BytesIO()
    write_file(PECGM, HEADER, rows, buffer, encoding="UTF-8")
    assert "<NOM_NAISSANCE>BŒUF</NOM_NAISSANCE>".encode() in buffer.getvalue()
    assert b"&#" not in buffer.getvalue()


def test_cgpem_layout_writes_a_valid_file():
    row = {
        "nir": "1850782186822",
        "birth_name": "COLAS",
        "first_name": "DANIEL",
        "birth_date": date(1985, 7, 13),
        "nature": "05",
        "decision_date": date(2025, 1, 15),
        "correspondent_phone": "0563000000",
    }
    content = written(CGPEM, [row, row])
    root = etree.fromstring(content)
    schema_for(CGPEM).assertValid(root)
    assert root[0].findtext("FICHIER") == "CGPE"
    assert root[1].findtext("DATE_DECISION_ORIENTATION") == "20250115"
    assert root[-1].findtext("NB_ENREGISTREMENTS") == "2"


def lxml_reference(layout, header: dict, rows: list[dict], encoding: str = "ISO-8859-1") -> bytes:
    """The same file written with lxml's xmlfile, one element tree per record (the writer's former way)."""
    buffer = io.BytesIO()

    def element(record, values):
        built = etree.Element(record.tag)
        for item in record.fields:
            if item.is_group:
                texts = [
                    (child.tag, format_value(values.get(f"{item.attr}_{child.attr}")))
                    for child in item.children
                ]
                texts = [(tag, text) for tag, text in texts if text]
                if texts:
                    group = etree.SubElement(built, item.tag)
                    for tag, text in texts:
                        etree.SubElement(group, tag).text = text
                continue
            value = values.get(item.attr)
            text = format_value(item.constant if value is None else value)
            if text or item.required:
                etree.SubElement(built, item.tag).text = text
        return built

    header = {"file_kind": layout.fichier, "version": "001,0"} | header
    header["departement"] = departement_on_three(header["departement"])
    with etree.xmlfile(buffer, encoding=encoding) as xf:
        xf.write_declaration()
        with xf.element(layout.name):
            xf.write("\n")
            xf.write(element(layout.header, header), "\n")
            for values in rows:
                xf.write(element(layout.detail, values), "\n")
            footer = {
                "departement": header["departement"],
                "reference_date": header["reference_date"],
                "record_count": len(rows),
            }
            xf.write(element(layout.footer, footer), "\n")
    return buffer.getvalue()


# Every character a Latin-1 file can hold, markup characters, a carriage return, tabs and line feeds.
AWKWARD = "".join(chr(code) for code in range(0x20, 0x100)) + "\t\n\r ]]> &amp; <!-- --> \"'"


@pytest.mark.parametrize("encoding", ["ISO-8859-1", "UTF-8"])
def test_output_is_byte_for_byte_what_lxml_writes(encoding):
    rows = records(30)
    rows[0]["birth_name"] = AWKWARD
    rows[1]["main_structure_street"] = AWKWARD
    rows[2]["first_name"] = ""  # required: written empty
    rows[3]["category_label"] = None
    rows[4]["registration_date"] = datetime(2024, 3, 5, 10, 30)
    if encoding == "UTF-8":
        rows[6]["birth_name"] = "BŒUF Łukasz ’ 李"
    header = HEADER | {"production_date": date(2025, 2, 3)}
    assert written_with(PECGM, header, rows, encoding) == lxml_reference(PECGM, header, rows, encoding)
    cgpem_rows = [
        {
            "nir": "1850782186822",
            "birth_name": "D'Arc-Müller",
            "first_name": "Zoé",
            "birth_date": date(1985, 7, 13),
            "nature": "05",
            "decision_date": date(2025, 1, 15),
            "referent_body": AWKWARD[:90],
            "correspondent_email": "a&b@example.fr",
        }
    ]
    assert written_with(CGPEM, header, cgpem_rows, encoding) == lxml_reference(
        CGPEM, header, cgpem_rows, encoding
    )


def written_with(layout, header, rows, encoding) -> bytes:
    buffer = io.BytesIO()
    write_file(layout, header, rows, buffer, encoding=encoding)
    return buffer.getvalue()


def test_more_records_than_a_batch_are_all_written_in_order():
    rows = [{"birth_name": f"NOM{n}", "first_name": "A", "birth_date": date(1990, 1, 1)} for n in range(2345)]
    root = etree.fromstring(written(PECGM, rows))
    assert [detail.findtext("NOM_NAISSANCE") for detail in root.iter("DETAIL")] == [
        row["birth_name"] for row in rows
    ]
    assert root.findtext("FIN/NB_ENREGISTREMENTS") == "2345"


@pytest.mark.parametrize("character", ["\x00", "\x01", "\x0b", "\x1f", "\ufffe"])
def test_a_control_character_is_refused_with_the_record_and_field(character):
    rows = records(3)
    rows[1]["main_structure_name"] = f"FRANCE{character}TRAVAIL"
    with pytest.raises(ForbiddenCharacter) as caught:
        written(PECGM, rows)
    assert (caught.value.record, caught.value.field) == (2, "STRUCTURE_PRINCIPALE_SUIVI/NOM")
    assert f"U+{ord(character):04X}" in str(caught.value) and "FRANCE" not in str(caught.value)


def test_a_control_character_is_refused_whatever_the_encoding():
    rows = records(1)
    rows[0]["birth_name"] = "DU\x07RAND"
    buffer = io.BytesIO()
    with pytest.raises(ForbiddenCharacter) as caught:
        write_file(PECGM, HEADER, rows, buffer, encoding="UTF-8")
    assert (caught.value.record, caught.value.field) == (1, "NOM_NAISSANCE")


def test_an_unencodable_character_in_the_header_names_it():
    with pytest.raises(UnencodableValue) as caught:
        written(PECGM, [], version="0€1")
    assert (caught.value.record, caught.value.field) == (None, "VERSION")


# A CGPEM record's person, and its referent's elements given as one shared Fragment.
PERSON = {
    "nir": "1850782186822",
    "birth_name": "D'Arc-Müller",
    "first_name": "Zoé",
    "birth_date": date(1985, 7, 13),
    "nature": "05",
    "decision_date": date(2025, 1, 15),
}
REFERENT = {
    "referent_body": AWKWARD[:90],
    "correspondent_last_name": "Martin",
    "correspondent_phone": "",  # optional and empty: left out
    "correspondent_email": "a&b@example.fr",
    "correspondent_service": "Service\rRSA",
}


@pytest.mark.parametrize("encoding", ["ISO-8859-1", "UTF-8"])
def test_records_sharing_a_fragment_are_written_as_if_each_held_its_values(encoding):
    shared, other = Fragment(REFERENT), Fragment(correspondent_first_name="Éloïse")
    rows = [
        PERSON | {FRAGMENT: shared},
        PERSON | {"birth_name": "Durand", FRAGMENT: other},
        PERSON | {FRAGMENT: shared},
        PERSON | REFERENT,  # no fragment: its own values
        PERSON | {FRAGMENT: Fragment()},  # nothing shared: no referent element
    ]
    expected = [{**{k: v for k, v in row.items() if k != FRAGMENT}, **row.get(FRAGMENT, {})} for row in rows]
    header = HEADER | {"production_date": date(2025, 2, 3)}
    buffer = io.BytesIO()
    write_file(CGPEM, header, rows, buffer, encoding=encoding, fragment="referent_body")
    assert buffer.getvalue() == lxml_reference(CGPEM, header, expected, encoding)
    assert shared.text is not None and other.text is not None  # rendered once, kept


@pytest.mark.parametrize(
    ("value", "error", "character"),
    [("Kowalczył", UnencodableValue, "\u0142"), ("Service\x07RSA", ForbiddenCharacter, "\x07")],
)
def test_a_value_of_a_fragment_that_cannot_be_written_is_refused_naming_record_and_field(
    value, error, character
):
    shared = Fragment(REFERENT | {"correspondent_service": value})
    rows = [PERSON | {FRAGMENT: Fragment(REFERENT)}, PERSON | {FRAGMENT: shared}, PERSON | {FRAGMENT: shared}]
    with pytest.raises(error) as caught:
        write_file(CGPEM, HEADER, rows, io.BytesIO(), fragment="referent_body")
    assert (caught.value.record, caught.value.field, caught.value.character) == (
        2,
        "SERVICE_CORRESPONDANT",
        character,
    )
