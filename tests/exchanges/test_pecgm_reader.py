"""The PECGM reader: every whole-file rejection, every record-level error, warnings, hostile XML."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest

from contract.layouts import PECGM
from exchanges.pecgm_reader import FileRejected, read_pecgm
from tests.exchanges.pecgm_files import (
    REFERENCE_DATE,
    SAMPLE_CGPEM,
    SAMPLE_PECGM,
    pecgm_bytes,
    records,
    replace_once,
    write,
)

NAME = "PECGM_082_20250131_M.xml"


def read_all(path, **kwargs):
    reader = read_pecgm(path, departement=kwargs.pop("departement", "82"), **kwargs)
    return reader, list(reader.records())


def rejected(path, **kwargs) -> FileRejected:
    with pytest.raises(FileRejected) as caught:
        read_all(path, **kwargs)
    assert NAME in caught.value.message or "fichier" in caught.value.message.lower()
    return caught.value


def detail_with(**changes) -> list[dict]:
    """Three records, the second one changed."""
    rows = plain(records(3))
    rows[1].update(changes)
    return rows


def plain(rows: list[dict]) -> list[dict]:
    """The records without the values that warn in real life (long agency names, long
    labels), for tests about one value's warning."""
    for row in rows:
        if row["main_structure_name"]:
            row["main_structure_name"] = "FRANCE TRAVAIL MONTAUBAN"
        for attr in ("cessation_motive_label", "radiation_motive_label"):
            row[attr] = row[attr] and row[attr][:20]
    return rows


# --- Files that read well ---------------------------------------------------


def test_shared_sample_parses_without_error():
    reader, parsed = read_all(SAMPLE_PECGM)
    assert reader.header.departement == "82"
    assert reader.header.periodicity == "M"
    assert reader.header.reference_date == date(2025, 1, 31)
    assert reader.header.production_date == date(2025, 2, 3)
    assert len(parsed) == 25
    assert [record.number for record in parsed] == list(range(1, 26))
    assert not [issue for record in parsed for issue in record.errors]
    assert reader.footer.record_count == 25
    # Annexe 4's radiation label runs past the table's 20 characters: kept, with a warning.
    warnings = [issue for record in parsed for issue in record.warnings]
    assert [issue.field for issue in warnings] == ["LIBELLE_MOTIF_RADIATION"]
    struck = next(r for r in parsed if r.values["radiation_motive"])
    assert struck.values["radiation_motive_label"] == warnings[0].value
    assert "STÉPHANIE" in {record.values["first_name"] for record in parsed}


def test_generated_file_round_trips_every_attr(tmp_path):
    rows = records(40)
    reader, parsed = read_all(write(tmp_path, pecgm_bytes(rows)))
    attrs = [attr for _, _, attr in PECGM.detail.flat_fields()]
    assert len(parsed) == 40
    for row, record in zip(rows, parsed, strict=True):
        assert list(record.values) == attrs  # every attr present, in layout order
        assert record.values["record_type"] == "D"
        for attr in attrs[1:]:
            assert record.values[attr] == (row.get(attr) or None), attr
        assert not record.errors


def test_header_is_read_at_open_without_iterating(tmp_path):
    reader = read_pecgm(write(tmp_path, pecgm_bytes(count=3)), departement="82")
    assert reader.header.reference_date == REFERENCE_DATE
    assert reader.footer is None  # known only after a full pass
    reader.close()


def test_validate_then_iterate_again(tmp_path):
    rows = detail_with(birth_date="20250231")
    reader = read_pecgm(write(tmp_path, pecgm_bytes(rows)), departement="82")
    validation = reader.validate()
    assert validation.record_count == 3
    assert validation.rejected_records == 1
    assert [(issue.record, issue.field) for issue in validation.errors] == [(2, "DATE_NAISSANCE")]
    assert validation.footer.record_count == 3
    assert validation.rejected_ratio == pytest.approx(1 / 3)
    assert [record.number for record in reader.records()] == [1, 2, 3]


def test_departement_082_and_82_are_the_same(tmp_path):
    content = pecgm_bytes(count=2)
    assert b"<DEPARTEMENT>082</DEPARTEMENT>" in content
    unpadded = content.replace(b"<DEPARTEMENT>082</DEPARTEMENT>", b"<DEPARTEMENT>82</DEPARTEMENT>")
    for data in (content, unpadded):
        reader, parsed = read_all(write(tmp_path, data), departement="082")
        assert reader.header.departement == "82"
        assert reader.footer.departement == "82"
        assert len(parsed) == 2


def test_corsica_departement(tmp_path):
    reader, parsed = read_all(write(tmp_path, pecgm_bytes(count=1, departement="2A")), departement="2A")
    assert reader.header.departement == "2A"


def test_departement_defaults_to_settings(tmp_path, settings):
    path = write(tmp_path, pecgm_bytes(count=1))
    settings.DEPARTEMENT = "82"
    assert read_pecgm(path).header.departement == "82"
    settings.DEPARTEMENT = "31"
    with pytest.raises(FileRejected, match="département 82, cette instance sert le 31"):
        read_pecgm(path)


def test_file_object_source():
    reader = read_pecgm(io.BytesIO(pecgm_bytes(count=2)), departement="82", file_name=NAME)
    assert [record.number for record in reader.records()] == [1, 2]
    assert reader.file_name == NAME


def test_padding_trimmed_and_zero_dates_mean_no_date(tmp_path):
    rows = records(1)
    rows[0].update(
        birth_name="   DUPONT     ", nir=" 1850782186822", cessation_date="00000000", radiation_date=None
    )
    content = replace_once(pecgm_bytes(rows), b"</PRENOM>", b"</PRENOM><DATE_RADIATION> </DATE_RADIATION>")
    assert b"<DATE_CESSATION_IDE>00000000<" in content
    _, (record,) = read_all(write(tmp_path, content))
    assert record.values["birth_name"] == "DUPONT"
    assert record.values["nir"] == "1850782186822"
    assert record.values["cessation_date"] is None
    assert record.values["radiation_date"] is None
    assert isinstance(record.values["birth_date"], date)
    assert not record.errors


def test_utf8_declared_and_used_is_honoured(tmp_path):
    rows = records(1)
    rows[0]["birth_name"] = "LEFÈVRE"
    content = pecgm_bytes(rows).decode("latin-1").replace("ISO-8859-1", "UTF-8").encode("utf-8")
    _, (record,) = read_all(write(tmp_path, content))
    assert record.values["birth_name"] == "LEFÈVRE"


def test_memory_stays_flat(tmp_path):
    reader = read_pecgm(write(tmp_path, pecgm_bytes(count=200)), departement="82")
    numbers = [record.number for record in reader.records()]
    assert numbers == list(range(1, 201))
    # Every record was dropped once read: only the (cleared) footer is left.
    assert len(reader._root) == 1
    assert len(reader._root[0]) == 0


# --- Record-level errors: this record rejected, the others kept -------------------


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"birth_date": "20250231"}, "DATE_NAISSANCE", "date invalide"),
        ({"registration_date": "2025013"}, "DATE_DEBUT_IDE", "date invalide"),
        ({"cessation_date": "31/01/2025"}, "DATE_CESSATION_IDE", "date invalide"),
        ({"ft_identifier": "123456789"}, "IDENTIFIANT_PE", "forme attendue (8 chiffres ou lettres)"),
        ({"ft_identifier": "1234567"}, "IDENTIFIANT_PE", "forme attendue"),
        ({"ft_identifier": "1234-67A"}, "IDENTIFIANT_PE", "forme attendue"),
        ({"ft_institution_code": "0761"}, "CODE_INSTITUTION_PE", "forme attendue"),
        ({"ft_institution_code": "7 6"}, "CODE_INSTITUTION_PE", "forme attendue"),
        ({"nir": "18507821868220"}, "NIR", "forme d'un NIR"),
        ({"nir": "185078218682"}, "NIR", "forme d'un NIR"),
        ({"nir": "9850782186822"}, "NIR", "forme d'un NIR"),
        ({"nir": "185078218682253"}, "NIR", "clé juste"),
        ({"birth_name": "X" * 101}, "NOM_NAISSANCE", "100 caractères au plus"),
        ({"category": "12"}, "CODE_CATEGORIE_INSCRIPTION", "forme attendue"),
        ({"radiation_date": "20250230"}, "DATE_RADIATION", "date invalide"),
        ({"birth_name": None}, "NOM_NAISSANCE", "obligatoire"),
        ({"first_name": "   "}, "PRENOM", "obligatoire"),
        ({"birth_date": "00000000"}, "DATE_NAISSANCE", "obligatoire"),
        ({"record_type": "X"}, "TYPE_ENREGISTREMENT", "D attendu"),
    ],
)
def test_record_errors(tmp_path, changes, field, message):
    _, parsed = read_all(write(tmp_path, pecgm_bytes(detail_with(**changes))))
    assert [bool(record.errors) for record in parsed] == [False, True, False]
    (issue,) = parsed[1].errors
    assert (issue.record, issue.field) == (2, field)
    assert message in issue.message
    value = list(changes.values())[-1]
    assert issue.value == ("" if message == "obligatoire" else value.strip())
    assert issue.as_dict() == {"record": 2, "field": field, "value": issue.value, "message": issue.message}


def test_error_messages_never_hold_the_value(tmp_path):
    _, parsed = read_all(write(tmp_path, pecgm_bytes(detail_with(ft_identifier="SECRET123"))))
    assert "SECRET123" not in parsed[1].errors[0].message


# --- Warnings: the value is kept ------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"work_axis": "99"}, "AXE_TRAVAIL", "code inconnu"),
        ({"support_mode": "NEW"}, "MODALITE_ACCOMPAGNEMENT", "code inconnu"),
        ({"category": "9"}, "CODE_CATEGORIE_INSCRIPTION", "code inconnu"),
        ({"training_level": "XYZ"}, "NIVEAU_FORMATION", "code inconnu"),
        ({"rome_label": "L" * 151}, "LIBELLE_ROME", "plus long que 150 caractères"),
        (
            {"radiation_motive_label": "un libellé de plus de vingt caractères"},
            "LIBELLE_MOTIF_RADIATION",
            "plus long que 20 caractères : gardé en entier",
        ),
        # Descriptive values: any length, any shape, kept whole with a warning.
        ({"main_structure_name": "FRANCE TRAVAIL CASTELSARRASIN"}, "STRUCTURE_PRINCIPALE_SUIVI/NOM", "27"),
        ({"main_structure_postcode": "82 00"}, "STRUCTURE_PRINCIPALE_SUIVI/CODE_POSTAL", "pas en chiffres"),
        ({"main_structure_postcode": "8200O"}, "STRUCTURE_PRINCIPALE_SUIVI/CODE_POSTAL", "pas en chiffres"),
        ({"delegated_structure_cedex": "123"}, "STRUCTURE_SUIVI_DELEGUEE/CEDEX", "plus long que 2"),
        ({"ft_counsellor": "DE LA ROCHEFOUCAULD MARIE-CHRISTINE"}, "CONSEILLER_PE", "plus long que 27"),
        ({"cessation_motive": "99"}, "MOTIF_CESSATION_IDE", "code inconnu"),
        ({"cessation_motive": "461"}, "MOTIF_CESSATION_IDE", "plus long que 2"),
        ({"rome_code": "M1607X"}, "CODE_ROME", "plus long que 5"),
        # Identifying values longer than the table: a 26-letter name is a name.
        ({"birth_name": "WOLFESCHLEGELSTEINHAUSENBE"}, "NOM_NAISSANCE", "plus long que 25 caractères"),
        ({"first_name": "MARIE-CHRISTINE-ALEXANDRINE"}, "PRENOM", "plus long que 25"),
    ],
)
def test_warnings_keep_the_value(tmp_path, changes, field, message):
    _, parsed = read_all(write(tmp_path, pecgm_bytes(detail_with(**changes))))
    record = parsed[1]
    assert not record.errors
    assert [(issue.field, message in issue.message) for issue in record.warnings] == [(field, True)]
    ((attr, value),) = changes.items()
    assert record.values[attr] == value
    assert record.warnings[0].value == value


@pytest.mark.parametrize(
    ("attr", "text", "field"),
    [
        ("ppae_signature_date", "20250230", "DATE_SIGNATURE_PPAE"),
        ("ppae_notification_date", "20241331", "DATE_NOTIFICATION_PPAE"),
        ("last_contact_date", "2025-01-02", "DATE_DERNIER_CONTACT"),
        ("caf_number", "12 345", "NUM_ALLOCATAIRE_CAF"),
        ("msa_number", "M" * 14, "NUM_ALLOCATAIRE_MSA"),
        ("commune_code", "8212", "CODE_INSEE_COMMUNE"),
    ],
)
def test_an_invalid_optional_value_is_dropped_and_the_record_kept(tmp_path, attr, text, field):
    _, parsed = read_all(write(tmp_path, pecgm_bytes(detail_with(**{attr: text}))))
    record = parsed[1]
    assert not record.errors
    assert record.values[attr] is None
    (warning,) = record.warnings
    assert (warning.record, warning.field, warning.value) == (2, field, text)
    assert "écarté" in warning.message and "l'enregistrement est gardé" in warning.message
    assert text not in warning.message


def test_a_nir_with_its_key_is_a_nir(tmp_path):
    rows = plain(records(3))
    with_key = rows[1]["nir"] + f"{97 - int(rows[1]['nir']) % 97:02d}"
    rows[1]["nir"] = with_key
    _, parsed = read_all(write(tmp_path, pecgm_bytes(rows)))
    assert not parsed[1].errors and not parsed[1].warnings
    assert parsed[1].values["nir"] == with_key


@pytest.mark.parametrize(
    ("attr", "usual", "odd", "kind"),
    [
        ("work_axis", "03", "99", "warnings"),  # a code: the fine ones are remembered
        ("main_structure_postcode", "82000", "82 00", "warnings"),  # digits, remembered likewise
        ("commune_code", "82121", "8212", "warnings"),  # an optional shape
        ("ft_identifier", "1234567A", "1234567", "errors"),  # an identifier's quick shape test
        ("nir", "1850782186822", "9850782186822", "errors"),
        ("birth_name", "DUPONT", "W" * 26, "warnings"),  # a name longer than the table
        ("record_type", "D", "X", "errors"),  # a constant
    ],
)
def test_each_value_is_checked_whatever_the_records_before_held(tmp_path, attr, usual, odd, kind):
    """The reader remembers values it found fine, per field: an odd value is still caught
    in every record, before and after the same value read fine or not."""
    rows = plain(records(5))
    for row, value in zip(rows, (usual, odd, usual, odd, usual), strict=True):
        row[attr] = value
    _, parsed = read_all(write(tmp_path, pecgm_bytes(rows)))
    flagged = [bool(getattr(record, kind)) for record in parsed]
    assert flagged == [False, True, False, True, False]
    assert [len(record.errors) + len(record.warnings) for record in parsed] == [0, 1, 0, 1, 0]


def test_a_value_fine_in_one_field_is_checked_again_in_another(tmp_path):
    rows = plain(records(2))
    rows[0]["cessation_motive"] = "99"  # unknown, a warning
    rows[1]["work_axis"], rows[1]["cessation_motive"] = "03", "46"
    rows[1]["training_level"] = "03"  # a work axis, not a training level
    _, parsed = read_all(write(tmp_path, pecgm_bytes(rows)))
    assert [w.field for w in parsed[1].warnings] == ["NIVEAU_FORMATION"]


def test_mis_encoded_text_is_refused_even_after_the_same_text_well_encoded(tmp_path):
    rows = plain(records(3))
    rows[0]["birth_name"] = rows[1]["birth_name"] = "JOSÉ"
    rows[2]["birth_name"] = "JOSÃ©"
    with pytest.raises(FileRejected) as caught:
        read_all(write(tmp_path, pecgm_bytes(rows)))
    assert caught.value.record == 3 and caught.value.field == "NOM_NAISSANCE"


def test_every_warning_of_a_field_and_kind_has_the_same_message(tmp_path):
    """What lets the run's page group them: the length found is in the value, not the message."""
    rows = plain(records(3))
    for row, label in zip(rows, ("A" * 21, "B" * 40, "C" * 75), strict=True):
        row["radiation_motive_label"] = label
    _, parsed = read_all(write(tmp_path, pecgm_bytes(rows)))
    messages = {w.message for record in parsed for w in record.warnings}
    assert messages == {"plus long que 20 caractères : gardé en entier"}


def test_unknown_element_is_a_warning(tmp_path):
    content = replace_once(
        pecgm_bytes(plain(records(2))), b"</PRENOM>", b"</PRENOM><NOUVEAU_CHAMP>x</NOUVEAU_CHAMP>"
    )
    _, parsed = read_all(write(tmp_path, content))
    assert [issue.field for issue in parsed[0].warnings] == ["NOUVEAU_CHAMP"]
    assert not parsed[0].errors


# --- Whole-file rejections -------------------------------------------------------------


def test_instance_departement_mismatch(tmp_path):
    error = rejected(write(tmp_path, pecgm_bytes(count=1)), departement="31")
    assert error.field == "DEPARTEMENT"
    assert NAME in error.message


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        (b"<FICHIER>PECG</FICHIER>", b"<FICHIER>CGPE</FICHIER>", "FICHIER"),
        (
            b"<TYPE_ENREGISTREMENT>E</TYPE_ENREGISTREMENT>",
            b"<TYPE_ENREGISTREMENT>D</TYPE_ENREGISTREMENT>",
            None,
        ),
        (b"<PERIODICITE>M</PERIODICITE>", b"<PERIODICITE>X</PERIODICITE>", "PERIODICITE"),
        (b"<PERIODICITE>M</PERIODICITE>", b"", "PERIODICITE"),
        (b"<DATE_REFERENCE>20250131</DATE_REFERENCE>", b"<DATE_REFERENCE>20250132</DATE_REFERENCE>", None),
        (b"<DEPARTEMENT>082</DEPARTEMENT>", b"<DEPARTEMENT>999</DEPARTEMENT>", "DEPARTEMENT"),
        (b"<VERSION>001,0</VERSION>", b"", "VERSION"),
    ],
)
def test_wrong_header(tmp_path, old, new, field):
    error = rejected(write(tmp_path, replace_once(pecgm_bytes(count=2), old, new)))
    if field:
        assert error.field == field
    assert "refusé" in error.message


def test_a_reference_month_after_the_production_month_is_refused(tmp_path):
    content = replace_once(
        pecgm_bytes(count=2),
        b"<DATE_REFERENCE>20250131</DATE_REFERENCE>",
        b"<DATE_REFERENCE>20250301</DATE_REFERENCE>",
    )
    content = _footer_replaced(content, b"20250131", b"20250301")
    error = rejected(write(tmp_path, content))
    assert error.field == "DATE_REFERENCE"
    assert "03/2025" in error.message and "02/2025" in error.message


def test_a_stock_made_the_28th_for_the_31st_is_accepted(tmp_path):
    """France Travail makes the monthly stock a few days before the month's end."""
    content = replace_once(
        pecgm_bytes(count=2, reference_date=date(2025, 5, 31)),
        b"<DATE_FABRICATION>20250603</DATE_FABRICATION>",
        b"<DATE_FABRICATION>20250528</DATE_FABRICATION>",
    )
    reader, parsed = read_all(write(tmp_path, content, "PECGM_082_20250531_M.xml"))
    assert (reader.header.reference_date, reader.header.production_date) == (
        date(2025, 5, 31),
        date(2025, 5, 28),
    )
    assert len(parsed) == 2


def test_a_file_made_in_the_future_is_refused(tmp_path):
    future = date.today() + timedelta(days=40)
    content = replace_once(
        pecgm_bytes(count=2), b"<DATE_FABRICATION>20250203</DATE_FABRICATION>",
        f"<DATE_FABRICATION>{future:%Y%m%d}</DATE_FABRICATION>".encode(),
    )  # fmt: skip
    error = rejected(write(tmp_path, content))
    assert error.field == "DATE_FABRICATION" and "dans le futur" in error.message
    # Made today (in any time zone), it is read.
    today = replace_once(
        pecgm_bytes(count=2), b"<DATE_FABRICATION>20250203</DATE_FABRICATION>",
        f"<DATE_FABRICATION>{date.today() + timedelta(days=1):%Y%m%d}</DATE_FABRICATION>".encode(),
    )  # fmt: skip
    assert len(read_all(write(tmp_path, today))[1]) == 2


def test_missing_header(tmp_path):
    content = pecgm_bytes(count=2)
    start, end = content.index(b"<ENTETE>"), content.index(b"</ENTETE>") + len(b"</ENTETE>")
    error = rejected(write(tmp_path, content[:start] + content[end:]))
    assert "ENTETE" in error.message


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        (b"<NB_ENREGISTREMENTS>3</NB_ENREGISTREMENTS>", b"<NB_ENREGISTREMENTS>4</NB_ENREGISTREMENTS>", None),
        (b"<NB_ENREGISTREMENTS>3</NB_ENREGISTREMENTS>", b"<NB_ENREGISTREMENTS>2</NB_ENREGISTREMENTS>", None),
        (
            b"<NB_ENREGISTREMENTS>3</NB_ENREGISTREMENTS>",
            b"<NB_ENREGISTREMENTS>trois</NB_ENREGISTREMENTS>",
            None,
        ),
        (
            b"<TYPE_ENREGISTREMENT>F</TYPE_ENREGISTREMENT>",
            b"<TYPE_ENREGISTREMENT>E</TYPE_ENREGISTREMENT>",
            "TYPE_ENREGISTREMENT",
        ),
    ],
)
def test_wrong_footer_count_or_type(tmp_path, old, new, field):
    error = rejected(write(tmp_path, replace_once(pecgm_bytes(count=3), old, new)))
    assert error.field in ("NB_ENREGISTREMENTS", "TYPE_ENREGISTREMENT")


def _footer_replaced(content: bytes, old: bytes, new: bytes) -> bytes:
    start = content.index(b"<FIN>")
    return content[:start] + replace_once(content[start:], old, new)


def test_footer_date_differs_from_header(tmp_path):
    content = _footer_replaced(pecgm_bytes(count=2), b"20250131", b"20250228")
    error = rejected(write(tmp_path, content))
    assert error.field == "DATE_REFERENCE"


def test_footer_departement_differs_from_header(tmp_path):
    content = _footer_replaced(pecgm_bytes(count=2), b"082", b"031")
    error = rejected(write(tmp_path, content))
    assert error.field == "DEPARTEMENT"


def test_missing_footer(tmp_path):
    content = pecgm_bytes(count=2)
    start, end = content.index(b"<FIN>"), content.index(b"</FIN>") + len(b"</FIN>")
    error = rejected(write(tmp_path, content[:start] + content[end:]))
    assert "FIN" in error.message


def test_detail_after_footer(tmp_path):
    content = pecgm_bytes(count=2)
    first = content[content.index(b"<DETAIL>") : content.index(b"</DETAIL>") + 9]
    content = content.replace(b"</PECGM>", first + b"</PECGM>")
    assert "après le pied" in rejected(write(tmp_path, content)).message


def test_unexpected_top_level_element(tmp_path):
    content = replace_once(pecgm_bytes(count=3), b"<DETAIL>", b"<AUTRE>x</AUTRE><DETAIL>")
    assert "AUTRE" in rejected(write(tmp_path, content)).message


def test_truncated_file_yields_good_records_then_rejects(tmp_path):
    content = pecgm_bytes(count=20)
    cut = content[: content.index(b"<DETAIL>", len(content) // 2) + 40]
    reader = read_pecgm(write(tmp_path, cut), departement="82")
    seen = []
    with pytest.raises(FileRejected) as caught:
        for record in reader.records():
            seen.append(record.number)
    assert len(seen) >= 5 and seen == list(range(1, len(seen) + 1))
    assert caught.value.record == len(seen) + 1
    assert f"après l'enregistrement {len(seen)}" in caught.value.message
    with pytest.raises(FileRejected):
        reader.validate()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "vide"),
        (b"NIR;NOM\n1850782186822;COLAS\n", "pas un document XML"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "pas un document XML"),
        (b"<?xml version='1.0' encoding='ISO-8859-1'?>\n<PECGM><ENTETE>", "tronqué"),
        (b"<?xml version='1.0'?><PECGM/>", "ENTETE absent"),
    ],
)
def test_not_xml_empty_or_broken(tmp_path, content, message):
    assert message in rejected(write(tmp_path, content)).message


def test_wrong_root(tmp_path):
    error = rejected(SAMPLE_CGPEM)
    assert "racine CGPEM" in error.message


def test_size_limit(tmp_path):
    path = write(tmp_path, pecgm_bytes(count=3))
    assert "limite" in rejected(path, max_size=100).message
    read_all(path, max_size=path.stat().st_size)


def test_size_limit_defaults_to_settings(tmp_path, settings):
    settings.PECGM_MAX_FILE_SIZE = 10
    with pytest.raises(FileRejected, match="limite"):
        read_pecgm(write(tmp_path, pecgm_bytes(count=1)), departement="82")


# --- Hostile XML -----------------------------------------------------------------------------


def _with_prolog(prolog: bytes, body_replacement: bytes | None = None) -> bytes:
    content = pecgm_bytes(count=1)
    content = replace_once(content, b"?>\n<PECGM>", b"?>\n" + prolog + b"\n<PECGM>")
    if body_replacement is not None:
        content = replace_once(content, b"<PRENOM>", b"<PRENOM>" + body_replacement)
    return content


def test_external_entity_to_a_local_file_is_never_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("CONTENU-SECRET-XXE")
    content = _with_prolog(f'<!DOCTYPE PECGM [<!ENTITY xxe SYSTEM "file://{secret}">]>'.encode(), b"&xxe;")
    error = rejected(write(tmp_path, content))
    assert "DOCTYPE" in error.message
    assert "CONTENU-SECRET-XXE" not in error.message


def test_billion_laughs(tmp_path):
    entities = b'<!ENTITY lol "lol">' + b"".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">'.encode() for i in range(1, 10)
    )
    content = _with_prolog(b"<!DOCTYPE PECGM [" + entities + b"]>", b"&lol9;")
    assert "DOCTYPE" in rejected(write(tmp_path, content)).message


def test_external_dtd(tmp_path):
    dtd = tmp_path / "evil.dtd"
    dtd.write_text('<!ENTITY leak "CONTENU-DTD">')
    content = _with_prolog(f'<!DOCTYPE PECGM SYSTEM "file://{dtd}">'.encode())
    assert "DOCTYPE" in rejected(write(tmp_path, content)).message


def test_plain_doctype_is_refused(tmp_path):
    assert "DOCTYPE" in rejected(write(tmp_path, _with_prolog(b"<!DOCTYPE PECGM>"))).message


def test_entity_reference_without_declaration_is_refused(tmp_path):
    content = replace_once(pecgm_bytes(count=1), b"<PRENOM>", b"<PRENOM>&xxe;")
    assert "mal formé" in rejected(write(tmp_path, content)).message


def test_doctype_hidden_behind_a_long_prolog_is_refused(tmp_path):
    padding = b"<!--" + b" " * (70 * 1024) + b"-->"
    content = _with_prolog(padding + b'<!DOCTYPE PECGM [<!ENTITY a "b">]>', b"&a;")
    assert "refusé" in rejected(write(tmp_path, content)).message


def test_utf16_is_refused(tmp_path):
    content = pecgm_bytes(count=1).decode("latin-1").replace("ISO-8859-1", "UTF-16").encode("utf-16")
    assert "UTF-16" in rejected(write(tmp_path, content)).message


# --- Encoding accidents -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["LEFÈVRE", "STÉPHANIE", "FRANÇOIS", "DANIÈLE D’ARC", "CŒUR"])
def test_utf8_in_a_latin1_file_is_mojibake(tmp_path, name):
    content = pecgm_bytes(count=3)
    marker = b"<PRENOM>"
    second = content.index(marker, content.index(marker) + 1) + len(marker)
    content = content[:second] + name.encode("utf-8") + content[second:]
    error = rejected(write(tmp_path, content))
    assert (error.record, error.field) == (2, "PRENOM")
    assert "mal encodés" in error.message
    assert name not in error.message


# Their UTF-8 bytes hold no C1 control (0x80-0x9F) but for ğ: the check for C1 controls and
# `Ã©`-like pairs alone let them through, stored garbled ("KU\xc5\xa0").
@pytest.mark.parametrize("name", ["KUŠ", "BOŻENA", "żANETA", "DOĞAN", "ЮСУФ", "Тина", "TRẦN"])
@pytest.mark.parametrize("declared", ["ISO-8859-1", "windows-1252"])
def test_any_utf8_sequence_in_a_latin1_file_is_refused(tmp_path, name, declared):
    content = pecgm_bytes(count=3).replace(b"ISO-8859-1", declared.encode(), 1)
    marker = b"<NOM_NAISSANCE>"
    second = content.index(marker, content.index(marker) + 1) + len(marker)
    content = content[:second] + name.encode("utf-8") + content[second:]
    error = rejected(write(tmp_path, content))
    assert (error.record, error.field) == (2, "NOM_NAISSANCE")
    assert "mal encodés" in error.message and declared.upper() in error.message
    assert name not in error.message


@pytest.mark.parametrize(
    "name",
    [
        "CHLOÉ",
        "HÉLÈNE",
        "FRANÇOISE",
        "JOËL",
        "ANAÏS",
        "JÉRÔME",
        "MAËLLE",
        "NOÉMIE-ÂNGE",
        "D'ALMEIDA-GONÇALVES",
        "Gaëlle Éléonore",
        "ÀÂÆÇÈÉÊËÎÏÔÙÛÜ",
        "àâæçèéêëîïôùûüÿ",
    ],
)
def test_french_accented_names_are_accepted(tmp_path, name):
    rows = records(1)
    rows[0].update(birth_name=name[:25], first_name=name[:25])
    _, (record,) = read_all(write(tmp_path, pecgm_bytes(rows)))
    assert not record.errors
    assert (record.values["birth_name"], record.values["first_name"]) == (name[:25], name[:25])


@pytest.mark.parametrize(
    "label",
    [
        "salarié·e",  # é then one symbol: a UTF-8 lead byte of three needs two more
        "« été » ou ça",
        "N° 12, bâtiment ², côté °",
        "SALARIÉ·E",  # a French capital, then a symbol: typography, not UTF-8
        "CESSATION D'ACTIVITÉ\u00a0: REPRISE",
        "« PRÉ »",
    ],
)
def test_french_typography_in_a_label_is_accepted(tmp_path, label):
    rows = records(1)
    rows[0].update(rome_code="K2204", rome_label=label)
    _, (record,) = read_all(write(tmp_path, pecgm_bytes(rows)))
    assert record.values["rome_label"] == label


def test_c1_control_character_rejects_the_file(tmp_path):
    content = replace_once(pecgm_bytes(count=1), b"<NOM_NAISSANCE>", b"<NOM_NAISSANCE>\x85")
    error = rejected(write(tmp_path, content))
    assert (error.record, error.field) == (1, "NOM_NAISSANCE")
    assert "U+0085" in error.message


def test_mojibake_in_an_address(tmp_path):
    rows = records(1)
    rows[0]["main_structure_street"] = "RUE DES PR\u00c3\u00a9S"
    error = rejected(write(tmp_path, pecgm_bytes(rows)))
    assert error.field == "STRUCTURE_PRINCIPALE_SUIVI/LIBELLE_VOIE"


def test_latin1_bytes_in_a_utf8_declared_file(tmp_path):
    content = pecgm_bytes(count=1).replace(b"ISO-8859-1", b"UTF-8")
    content = replace_once(content, b"<PRENOM>", b"<PRENOM>\xc9LO\xcfSE ")
    assert "mal formé" in rejected(write(tmp_path, content)).message


def test_genuine_latin1_accents_are_fine(tmp_path):
    rows = records(1)
    rows[0]["birth_name"] = "ÉLOÏSE-DÛR Ô'ÇA"
    _, (record,) = read_all(write(tmp_path, pecgm_bytes(rows)))
    assert record.values["birth_name"] == "ÉLOÏSE-DÛR Ô'ÇA"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"DETAIL>", b"DETAILS>"),  # records under another name
        (b"<PECGM>", b'<PECGM xmlns="urn:autre">'),  # a namespace: no tag is recognised
    ],
)
def test_unrecognised_content_is_not_loaded_whole(tmp_path, old, new):
    content = pecgm_bytes(count=5000).replace(old, new)
    assert len(content) > 5 * 2**20
    error = rejected(write(tmp_path, content))
    assert "aucun élément ENTETE, DETAIL ou FIN reconnu" in error.message


def test_empty_daily_flux_is_a_valid_file(tmp_path):
    reader, parsed = read_all(write(tmp_path, pecgm_bytes([], periodicity="Q")))
    assert parsed == []
    assert reader.header.periodicity == "Q"
    assert reader.footer.record_count == 0


def test_footer_count_may_be_left_padded(tmp_path):
    content = replace_once(
        pecgm_bytes(count=3),
        b"<NB_ENREGISTREMENTS>3</NB_ENREGISTREMENTS>",
        b"<NB_ENREGISTREMENTS>000000003</NB_ENREGISTREMENTS>",
    )
    assert read_all(write(tmp_path, content))[0].footer.record_count == 3


def test_syntax_error_message_quotes_no_bytes_of_a_name(tmp_path):
    content = pecgm_bytes(count=1).replace(b"ISO-8859-1", b"UTF-8")
    content = replace_once(content, b"<PRENOM>", b"<PRENOM>\xc9LO\xcfSE ")
    error = rejected(write(tmp_path, content))
    assert "0xC9" not in error.message and "Bytes" not in error.message


def _pecgm_cut_points(data: bytes) -> dict[str, int]:
    """Where a transfer can stop, found in a real generated file."""
    second = data.index(b"<DETAIL>", data.index(b"<DETAIL>") + 1)
    return {
        "inside the header": data.index(b"<ENTETE>") + 20,
        "inside a tag name": data.index(b"<DETAIL>") + 4,
        "inside a record": data.index(b"<NOM_NAISSANCE>", second) + 3,
        "between two records": second,
        "after the last record, before the footer": data.index(b"<FIN>"),
        "inside the footer": data.index(b"<NB_ENREGISTREMENTS>") + 21,
        "after the footer, before the root's end": data.index(b"</FIN>") + len(b"</FIN>"),
        "one byte short": len(data.rstrip()) - 1,
    }


@pytest.mark.parametrize("where", list(_pecgm_cut_points(pecgm_bytes(count=3))))
def test_a_file_cut_anywhere_is_refused(tmp_path, where):
    data = pecgm_bytes(count=3)
    path = write(tmp_path, data[: _pecgm_cut_points(data)[where]])
    error = rejected(path)
    assert "tronqué" in error.message


def test_no_prefix_of_a_file_is_accepted(tmp_path):
    """Whatever lxml does with a cut document, the reader refuses every prefix of the file."""
    data = pecgm_bytes(count=2)
    end = len(data.rstrip())  # trailing white space after the root is not content
    accepted = []
    for cut in range(end):
        path = write(tmp_path, data[:cut])
        try:
            read_all(path)
        except FileRejected:
            continue
        accepted.append(cut)
    assert accepted == []
    read_all(write(tmp_path, data[:end]))  # the whole document reads


def test_a_cut_file_is_refused_even_if_the_parser_ends_it_quietly(tmp_path, monkeypatch):
    """lxml 6.2's iterparse with a schema ends a cut document without an error: the reader's
    own checks (root closed, footer) must refuse it whatever the parser does."""
    from lxml import etree

    from exchanges import pecgm_reader

    real = etree.iterparse

    def quiet_iterparse(*args, **kwargs):
        try:
            yield from real(*args, **kwargs)
        except etree.XMLSyntaxError:
            return

    monkeypatch.setattr(pecgm_reader.etree, "iterparse", quiet_iterparse)
    data = pecgm_bytes(count=3)
    for where, cut in _pecgm_cut_points(data).items():
        with pytest.raises(FileRejected) as caught:
            read_all(write(tmp_path, data[:cut]))
        # A header cut is an absent header (it is read whole at opening, before any record).
        assert "tronqué" in caught.value.message or "ENTETE absent" in caught.value.message, where
    read_all(write(tmp_path, data))


@pytest.mark.parametrize("nir", ["185072A123456", "285072B123456", "7850782186822", "1850782186822"])
def test_nirs_of_every_form_are_read(tmp_path, nir):
    _, parsed = read_all(write(tmp_path, pecgm_bytes(detail_with(nir=nir))))
    assert not parsed[1].errors and parsed[1].values["nir"] == nir


def test_a_refused_identifying_value_stays_in_the_refused_record_s_values(tmp_path):
    """Whom a refused record names (« reçu, illisible ») is read from its values."""
    rows = plain(records(3))
    bad_key = rows[1]["nir"] + f"{(98 - int(rows[1]['nir']) % 97) % 100:02d}"
    rows[1]["nir"] = bad_key
    _, parsed = read_all(write(tmp_path, pecgm_bytes(rows)))
    assert [issue.field for issue in parsed[1].errors] == ["NIR"]
    assert parsed[1].values["nir"] == bad_key
