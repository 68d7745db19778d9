"""Synthetic PECGM content: realistic, deterministic, readable without error, and a plausible next month."""

from __future__ import annotations

from collections import Counter
from datetime import date

from lxml import etree

from beneficiaries.demo import fake_people
from contract.layouts import PECGM
from contract.xml_writer import schema_for
from exchanges.pecgm_reader import read_pecgm
from exchanges.synthetic import fake_pecgm_records, ft_name, next_month, write_pecgm

REF = date(2025, 1, 31)


def status(record: dict) -> str:
    if record.get("radiation_date"):
        return "radie"
    if record.get("cessation_date"):
        return "cessation"
    return "inscrit"


def test_deterministic_for_a_seed():
    first = list(fake_pecgm_records(None, 30, seed=5, reference_date=REF))
    assert first == list(fake_pecgm_records(None, 30, seed=5, reference_date=REF))
    assert first != list(fake_pecgm_records(None, 30, seed=6, reference_date=REF))


def test_status_mix_like_a_real_stock():
    rows = list(fake_pecgm_records(None, 2000, seed=1, reference_date=REF))
    mix = Counter(status(row) for row in rows)
    assert mix["inscrit"] > 0.7 * len(rows)
    assert 0.05 * len(rows) < mix["cessation"] < 0.2 * len(rows)
    assert 0.03 * len(rows) < mix["radie"] < 0.15 * len(rows)
    for row in rows:
        assert row["category"] in "12345" and row["category_label"]
        assert row["main_structure_name"] and row["main_structure_postcode"].isdigit()
        assert row["ft_identifier"] and len(row["ft_identifier"]) == 8
        if status(row) == "cessation":
            assert row["cessation_motive"] and row["cessation_motive_label"]
            assert REF.replace(day=1) <= row["cessation_date"] <= REF
        if status(row) == "radie":
            assert row["radiation_motive"] and row["radiation_motive_label"]
    assert any(row["ppae_signature_date"] for row in rows)
    assert {row["work_axis"] for row in rows} <= set(PECGM.detail.field("AXE_TRAVAIL").codes)
    assert len({row["ft_identifier"] for row in rows}) == len(rows)
    assert len({row["nir"] for row in rows if row["nir"]}) == len([row for row in rows if row["nir"]])


def test_records_follow_known_people_as_france_travail_writes_them():
    people = fake_people(10, seed=4)
    rows = list(fake_pecgm_records(people, 15, seed=2, reference_date=REF))
    assert len(rows) == 15
    for person, row in zip(people, rows, strict=False):
        assert row["birth_name"] == ft_name(person["birth_name"]) == row["birth_name"].upper()
        assert row["first_name"] == person["first_name"].upper()
        assert row["birth_date"] == person["birth_date"]
        assert row["nir"] in (None, person["nir"][:13])
        assert len(row["nir"] or "x" * 13) == 13


def test_ft_name_stays_latin1():
    assert ft_name("Cœur-Lœuvre") == "COEUR-LOEUVRE"
    assert ft_name("d’Artagnan") == "D'ARTAGNAN"
    assert ft_name("Éloïse") == "ÉLOÏSE"
    assert len(ft_name("x" * 40)) == 25


def test_written_file_is_valid_and_reads_without_error(tmp_path):
    path = tmp_path / "PECGM_082_20250131_M.xml"
    rows = fake_pecgm_records(fake_people(5), 300, seed=9, reference_date=REF)
    assert write_pecgm(path, rows, reference_date=REF, departement="82") == 300
    schema_for(PECGM).assertValid(etree.parse(str(path)))
    validation = read_pecgm(path, departement="82").validate()
    assert validation.record_count == 300
    assert validation.rejected_records == 0
    # Only what runs past the table in real life warns: the annexe's radiation and cessation
    # labels, an agency name of 29 characters (FRANCE TRAVAIL CASTELSARRASIN).
    assert set(validation.warnings_by_field) <= {
        "LIBELLE_MOTIF_RADIATION",
        "LIBELLE_MOTIF_CESSATION_IDE",
        "STRUCTURE_PRINCIPALE_SUIVI/NOM",
    }


def test_motives_and_labels_are_the_annexe_s():
    from contract.layouts import CESSATION_MOTIVES as TABLE
    from contract.layouts import RADIATION_MOTIVE_LABELS
    from exchanges.synthetic import CESSATION_MOTIVES, RADIATION_MOTIVES

    assert dict(TABLE) == CESSATION_MOTIVES
    assert len(CESSATION_MOTIVES) == 36
    assert CESSATION_MOTIVES["43"] == "fin de contrat de travail temporaire ou CDD (catégorie 5 uniquement)"
    assert set(RADIATION_MOTIVES.values()) <= set(RADIATION_MOTIVE_LABELS)
    rows = list(fake_pecgm_records(None, 2000, seed=5, reference_date=REF))
    sent = {
        (row["cessation_motive"], row["cessation_motive_label"]) for row in rows if row["cessation_motive"]
    }
    assert sent <= set(TABLE.items()) and len(sent) > 20


def test_next_month_changes_about_ten_percent():
    rows = list(fake_pecgm_records(None, 3000, seed=1, reference_date=REF))
    following = list(next_month(rows, seed=2))
    before = {row["ft_identifier"]: row for row in rows}
    after = {row["ft_identifier"]: row for row in following}
    left = set(before) - set(after)
    entered = set(after) - set(before)
    changed = [key for key in set(before) & set(after) if before[key] != after[key]]
    total = len(left) + len(entered) + len(changed)
    assert 0.06 * len(rows) < total < 0.16 * len(rows)
    assert left and entered and changed
    transitions = Counter((status(before[key]), status(after[key])) for key in changed)
    assert transitions[("inscrit", "cessation")] and transitions[("inscrit", "radie")]
    assert any(new[0] != "inscrit" and new[1] == "inscrit" for new in transitions)
    # The new month is the month after: every new event falls in February.
    feb = date(2025, 2, 1)
    for key in changed:
        for attr in ("cessation_date", "radiation_date"):
            if after[key][attr] != before[key][attr] and after[key][attr]:
                assert feb <= after[key][attr] <= date(2025, 2, 28)
    assert all(status(after[key]) == "inscrit" for key in entered)
    assert len({row["nir"] for row in following if row["nir"]}) == len([r for r in following if r["nir"]])


def test_next_month_from_a_read_file_writes_a_valid_file(tmp_path):
    january, february = tmp_path / "PECGM_082_20250131_M.xml", tmp_path / "PECGM_082_20250228_M.xml"
    write_pecgm(january, fake_pecgm_records(None, 400, seed=3, reference_date=REF), reference_date=REF)
    values = (record.values for record in read_pecgm(january, departement="82").records())
    feb = date(2025, 2, 28)
    count = write_pecgm(february, next_month(values, seed=4), reference_date=feb, departement="82")
    validation = read_pecgm(february, departement="82").validate()
    assert validation.record_count == count and 350 < count < 450
    assert validation.rejected_records == 0
    assert validation.header.reference_date == feb
