"""The CGPEM file: contents, fitting rules, XSD validation, archive and reports."""

import hashlib
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from django.db.models import Max
from django.utils import timezone
from lxml import etree

from contract.layouts import CGPEM, DATE
from contract.xml_writer import FRAGMENT, Fragment
from exchanges.models import FollowUp
from exchanges.pecgm_reader import PecgmReader
from orientations import cgpem
from orientations.cgpem import CgpemError, generate_cgpem, period_bounds
from orientations.decisions import DecisionData, correct_decision, record_decision
from orientations.models import CarriedDecision, CgpemExport, OrientationDecision
from tests.factories import BeneficiaryFactory
from tests.orientations.factories import CorrespondentFactory, DecisionFactory, ReferentBodyFactory

pytestmark = pytest.mark.django_db
DETAIL = CGPEM.detail.tag
TAGS = {attr: tag for (*_p, tag), _item, attr in CGPEM.detail.flat_fields()}


def parse(path: Path) -> etree._ElementTree:
    """Hardened parse + schema validation: the way France Travail reads the file."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    tree = etree.parse(str(path), parser)
    cgpem.load_schema().assertValid(tree)
    return tree


def records(path: Path) -> list[dict]:
    return [{child.tag: child.text or "" for child in element} for element in parse(path).iter(DETAIL)]


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=timezone.get_current_timezone())


def test_period_bounds():
    assert period_bounds("M", date(2025, 1, 31)) == (date(2025, 1, 1), date(2025, 1, 31))
    assert period_bounds("H", date(2025, 1, 31)) == (date(2025, 1, 25), date(2025, 1, 31))
    assert period_bounds("Q", date(2025, 1, 31)) == (date(2025, 1, 31), date(2025, 1, 31))
    with pytest.raises(CgpemError):
        period_bounds("X", date(2025, 1, 31))


def test_monthly_stock_holds_every_current_decision_and_a_valid_header_and_footer(settings, tmp_path):
    settings.DEPARTEMENT = "82"
    person = BeneficiaryFactory(
        nir="185078218682245", birth_name="Colas", first_name="Daniel", birth_date=date(1985, 7, 13)
    )
    correspondent = CorrespondentFactory(last_name="Martin", first_name="Paul", phone="05 63 00 00 00")
    DecisionFactory(
        beneficiary=person,
        nature="05",
        decision_date=date(2025, 1, 15),
        referent_body=correspondent.referent_body,
        correspondent=correspondent,
    )
    DecisionFactory.create_batch(2, changed_at=at(date(2024, 6, 1)), decision_date=date(2024, 6, 1))
    output = tmp_path / "out.xml"
    export = generate_cgpem("M", date(2025, 1, 31), output=output)

    assert export.file_name == "CGPEM_082_20250131_M.xml"
    assert export.records == 3
    tree = parse(output)
    assert tree.docinfo.encoding.upper() == "ISO-8859-1"
    header = {child.tag: child.text for child in tree.getroot().find("ENTETE")}
    assert header["FICHIER"] == "CGPE"
    assert header["PERIODICITE"] == "M"
    assert header["DEPARTEMENT"] == "082"
    assert header["DATE_REFERENCE"] == "20250131"
    footer = {child.tag: child.text for child in tree.getroot().find("FIN")}
    assert footer == {
        "TYPE_ENREGISTREMENT": "F",
        "DEPARTEMENT": "082",
        "DATE_REFERENCE": "20250131",
        "NB_ENREGISTREMENTS": "3",
    }
    first = next(r for r in records(output) if r["NOM_NAISSANCE"] == "Colas")
    assert first["NIR"] == "1850782186822"  # 13 characters, no key
    assert first["DATE_NAISSANCE"] == "19850713"
    assert first["NATURE_ACCOMPAGNEMENT"] == "05"
    assert first["DATE_DECISION_ORIENTATION"] == "20250115"
    assert first["TEL_CORRESPONDANT"] == "0563000000"
    assert first["ORGANISME_REFERENT"] == correspondent.referent_body.file_text
    assert "NOM_MARITAL" not in first


def test_stock_takes_the_decision_in_force_at_the_period_end():
    person = BeneficiaryFactory()
    body = ReferentBodyFactory()
    record_decision(person, DecisionData("01", date(2024, 10, 1), body))
    record_decision(person, DecisionData("05", date(2025, 2, 10), body))
    january = generate_cgpem("M", date(2025, 1, 31))
    february = generate_cgpem("M", date(2025, 2, 28))
    assert [r["NATURE_ACCOMPAGNEMENT"] for r in records(Path(january.path))] == ["01"]
    assert [r["NATURE_ACCOMPAGNEMENT"] for r in records(Path(february.path))] == ["05"]


def test_flux_holds_only_decisions_taken_or_changed_in_the_period():
    body = ReferentBodyFactory()
    in_week = BeneficiaryFactory(birth_name="Semaine")
    before = BeneficiaryFactory(birth_name="Avant")
    corrected = BeneficiaryFactory(birth_name="Corrige")
    DecisionFactory(
        beneficiary=in_week,
        referent_body=body,
        decision_date=date(2025, 1, 27),
        changed_at=at(date(2025, 1, 28)),
    )
    DecisionFactory(
        beneficiary=before,
        referent_body=body,
        decision_date=date(2025, 1, 2),
        changed_at=at(date(2025, 1, 3)),
    )
    old = DecisionFactory(
        beneficiary=corrected,
        referent_body=body,
        decision_date=date(2024, 12, 1),
        changed_at=at(date(2024, 12, 1)),
    )
    OrientationDecision.objects.filter(pk=old.pk).update(
        changed_at=at(date(2025, 1, 30))
    )  # corrected that day

    weekly = generate_cgpem("H", date(2025, 1, 31))
    assert sorted(r["NOM_NAISSANCE"] for r in records(Path(weekly.path))) == ["Corrige", "Semaine"]
    assert (weekly.period_start, weekly.period_end) == (date(2025, 1, 25), date(2025, 1, 31))
    daily = generate_cgpem("Q", date(2025, 1, 28))
    assert [r["NOM_NAISSANCE"] for r in records(Path(daily.path))] == ["Semaine"]
    assert weekly.file_name.endswith("_H.xml") and daily.file_name == "CGPEM_082_20250128_Q.xml"
    stock = generate_cgpem("M", date(2025, 1, 31))
    assert stock.records == 3


def test_a_correction_puts_the_decision_in_the_next_flux():
    decision = DecisionFactory(decision_date=date(2024, 5, 1), changed_at=at(date(2024, 5, 1)))
    today = timezone.localdate()
    assert generate_cgpem("Q", today).records == 0
    correct_decision(
        decision, DecisionData("06", decision.decision_date, decision.referent_body, decision.correspondent)
    )
    export = generate_cgpem("Q", today)
    assert [r["NATURE_ACCOMPAGNEMENT"] for r in records(Path(export.path))] == ["06"]


def test_names_with_ligatures_stroked_letters_and_curly_apostrophes_are_transliterated_and_reported():
    person = BeneficiaryFactory(birth_name="D’Œuvray", usage_name="Łukasiewicz", first_name="Bœna")
    decision = DecisionFactory(beneficiary=person, correspondent=CorrespondentFactory(last_name="Kowalczył"))
    export = generate_cgpem("M", date(2025, 1, 31))
    raw = Path(export.path).read_bytes()
    raw.decode("iso-8859-1")
    assert "’".encode() not in raw
    record = records(Path(export.path))[0]
    assert record["NOM_NAISSANCE"] == "D'OEuvray"
    assert record["NOM_MARITAL"] == "Lukasiewicz"
    assert record["PRENOM"] == "Boena"
    assert record["NOM_CORRESPONDANT"] == "Kowalczyl"
    by_field = {item["field"]: item for item in export.transliterations}
    assert by_field["NOM_NAISSANCE"] == {
        "decision": decision.pk,
        "field": "NOM_NAISSANCE",
        "replaced": {"’": "'", "Œ": "OE"},
    }
    assert by_field["NOM_MARITAL"]["replaced"] == {"Ł": "L"}
    assert by_field["PRENOM"]["replaced"] == {"œ": "oe"}
    assert by_field["NOM_CORRESPONDANT"]["replaced"] == {"ł": "l"}


def test_latin1_accents_go_through_untouched():
    DecisionFactory(beneficiary=BeneficiaryFactory(first_name="Stéphanie", birth_name="Müller"))
    export = generate_cgpem("M", date(2025, 1, 31))
    assert records(Path(export.path))[0]["PRENOM"] == "Stéphanie"
    assert "Stéphanie".encode("iso-8859-1") in Path(export.path).read_bytes()
    assert export.transliterations == []


def test_a_name_stored_decomposed_is_written_composed():
    """Some sources store "é" as "e" + U+0301: the file gets the Latin-1 "é", the decision is sent."""
    person = BeneficiaryFactory(first_name="Zoe\u0301", birth_name="E\u0301" * 25)  # 50 code points
    decision = DecisionFactory(beneficiary=person)
    export = generate_cgpem("M", date(2025, 1, 31))
    assert export.excluded == []
    assert export.records == 1
    record = records(Path(export.path))[0]
    assert record["PRENOM"] == "Zoé"
    assert record["NOM_NAISSANCE"] == "É" * 25  # 25 letters once composed
    assert "Zoé".encode("iso-8859-1") in Path(export.path).read_bytes()
    assert export.transliterations == []
    assert decision.pk not in [item["decision"] for item in export.warnings]


def test_a_birth_name_or_first_name_over_25_letters_is_cut_at_25_with_a_warning():
    """France Travail matches first on the NIR and the identifier: a long name never leaves a decision out."""
    long_name = BeneficiaryFactory(birth_name="Œ" * 13, first_name="Marie-Christine-Alexandrine")  # 26, 27
    fits = BeneficiaryFactory(birth_name="A" * 25)
    cut = DecisionFactory(beneficiary=long_name)
    DecisionFactory(beneficiary=fits)
    export = generate_cgpem("M", date(2025, 1, 31))
    assert export.records == 2
    assert export.excluded == []
    written = {r["NOM_NAISSANCE"]: r for r in records(Path(export.path))}
    assert set(written) == {"A" * 25, "OE" * 12 + "O"}
    assert written["OE" * 12 + "O"]["PRENOM"] == "Marie-Christine-Alexandri"
    assert [w["message"] for w in export.warnings if w["decision"] == cut.pk] == [
        "NOM_NAISSANCE : 26 caractères après translittération, 25 au plus ; valeur coupée",
        "PRENOM : 27 caractères après translittération, 25 au plus ; valeur coupée",
    ]
    assert [t["field"] for t in export.transliterations] == ["NOM_NAISSANCE"]


def test_a_cut_name_does_not_end_with_a_space_or_a_hyphen():
    DecisionFactory(beneficiary=BeneficiaryFactory(birth_name="Abcdefghijklmnopqrstuvwx-Yz"))  # "-" is 25th
    export = generate_cgpem("M", date(2025, 1, 31))
    assert records(Path(export.path))[0]["NOM_NAISSANCE"] == "Abcdefghijklmnopqrstuvwx"


def test_a_marital_name_that_cannot_be_written_leaves_out_that_field_not_the_decision():
    person = BeneficiaryFactory(usage_name="Épouse " + "Q" * 25)  # 32 characters
    decision = DecisionFactory(beneficiary=person)
    export = generate_cgpem("M", date(2025, 1, 31))
    assert export.records == 1 and export.excluded == []
    record = records(Path(export.path))[0]
    assert "NOM_MARITAL" not in record
    assert record["NOM_NAISSANCE"] == person.birth_name
    assert export.warnings == [
        {
            "decision": decision.pk,
            "beneficiary": person.pk,
            "message": "NOM_MARITAL : 32 caractères après translittération, 25 au plus ; "
            "valeur non transmise",
        }
    ]


@pytest.mark.parametrize(
    ("stored", "written"),
    [
        ("Jean2", "Jean"),
        ("Dupont, Marie", "Dupont Marie"),
        ("Anne 2e", "Anne e"),
        ("O’Neil…", "O'Neil"),
        ("Jean-李-Paul", "Jean- -Paul"),
    ],
)
def test_a_character_outside_format_a_becomes_a_space(stored, written):
    decision = DecisionFactory(beneficiary=BeneficiaryFactory(first_name=stored))
    export = generate_cgpem("M", date(2025, 1, 31))
    assert export.excluded == []
    assert records(Path(export.path))[0]["PRENOM"] == written
    assert [t["field"] for t in export.transliterations if t["decision"] == decision.pk] == ["PRENOM"]


def test_a_name_with_nothing_writable_is_sent_empty_when_the_nir_identifies_the_person():
    person = BeneficiaryFactory(first_name="李", nir="185078218682245")
    decision = DecisionFactory(beneficiary=person)
    export = generate_cgpem("M", date(2025, 1, 31))
    assert export.records == 1
    record = records(Path(export.path))[0]
    assert record["PRENOM"] == "" and record["NIR"] == "1850782186822"
    assert export.warnings[0]["decision"] == decision.pk
    assert export.warnings[0]["message"].startswith("PRENOM : aucun caractère transmissible")


def test_a_decision_is_left_out_only_when_nothing_identifying_can_be_written():
    person = BeneficiaryFactory(birth_name="1234", first_name="李", nir="")
    decision = DecisionFactory(beneficiary=person)
    export = generate_cgpem("M", date(2025, 1, 31))
    assert export.records == 0
    assert export.excluded == [
        {"decision": decision.pk, "beneficiary": person.pk, "reasons": [cgpem.NOTHING_IDENTIFYING]}
    ]


def test_anonymised_people_are_never_sent(settings):
    from rights.retention import anonymise

    kept = DecisionFactory(decision_date=date(2024, 5, 1), changed_at=at(date(2024, 5, 1)))
    gone = DecisionFactory(decision_date=date(2024, 5, 1), changed_at=at(date(2024, 5, 1)))
    anonymise(gone.beneficiary)
    stock = generate_cgpem("M", date(2025, 1, 31))
    assert stock.records == 1
    assert [r["NOM_NAISSANCE"] for r in records(Path(stock.path))] == [kept.beneficiary.birth_name]
    # Not in a flux either, although anonymising changed the person's identity today.
    assert generate_cgpem("Q", timezone.localdate()).records == 0


def test_a_corrected_identity_sends_the_decision_again_in_the_next_flux():
    from beneficiaries.models import Beneficiary

    decision = DecisionFactory(decision_date=date(2024, 5, 1), changed_at=at(date(2024, 5, 1)))
    DecisionFactory(decision_date=date(2024, 5, 1), changed_at=at(date(2024, 5, 1)))
    today = timezone.localdate()
    assert generate_cgpem("Q", today).records == 0
    person = Beneficiary.objects.get(pk=decision.beneficiary_id)
    person.birth_name = "Nouveaunom"
    person.save()
    export = generate_cgpem("H", today)
    assert [r["NOM_NAISSANCE"] for r in records(Path(export.path))] == ["Nouveaunom"]
    # Saving without a change to the identity does not count.
    other = Beneficiary.objects.exclude(pk=person.pk).get()
    other.commune_code = "82121"
    other.save()
    assert generate_cgpem("Q", today).records == 1


def test_a_long_correspondent_service_is_cut_with_a_warning():
    correspondent = CorrespondentFactory(service="Œ" * 26)  # 52 once transliterated, 50 allowed
    decision = DecisionFactory(correspondent=correspondent, referent_body=correspondent.referent_body)
    export = generate_cgpem("M", date(2025, 1, 31))
    assert export.records == 1
    assert records(Path(export.path))[0]["SERVICE_CORRESPONDANT"] == "OE" * 25
    assert export.warnings == [
        {
            "decision": decision.pk,
            "beneficiary": decision.beneficiary_id,
            "message": "SERVICE_CORRESPONDANT : 52 caractères après translittération, 50 au plus ; "
            "valeur coupée",
        }
    ]


@pytest.mark.parametrize("phone", ["056300000", "05630000001", "0563 00 00 0x"])
def test_a_bad_phone_leaves_the_decision_out(phone):
    correspondent = CorrespondentFactory()
    type(correspondent).objects.filter(pk=correspondent.pk).update(
        phone=phone
    )  # legacy data, never validated
    decision = DecisionFactory(correspondent=correspondent, referent_body=correspondent.referent_body)
    export = generate_cgpem("M", date(2025, 1, 31))
    assert export.records == 0
    assert export.excluded[0]["decision"] == decision.pk
    assert export.excluded[0]["reasons"][0].startswith("TEL_CORRESPONDANT")
    assert parse(Path(export.path)).getroot().find("FIN/NB_ENREGISTREMENTS").text == "0"


def test_several_problems_are_all_reported():
    body = ReferentBodyFactory()
    type(body).objects.filter(pk=body.pk).update(name="N" * 60, address="A" * 40)
    person = BeneficiaryFactory(nir="", birth_name="1234")
    DecisionFactory(beneficiary=person, referent_body=body, correspondent=None)
    export = generate_cgpem("M", date(2025, 1, 31))
    reasons = export.excluded[0]["reasons"]
    assert cgpem.NOTHING_IDENTIFYING in reasons
    assert any(reason.startswith("ORGANISME_REFERENT : 101 caractères") for reason in reasons)


def test_france_travail_identifier_and_institution_code_come_from_the_followup():
    with_ft = DecisionFactory()
    FollowUp.objects.create(
        beneficiary=with_ft.beneficiary, ft_identifier="1234567A", ft_institution_code="76"
    )
    bad_ft = DecisionFactory()
    FollowUp.objects.create(beneficiary=bad_ft.beneficiary, ft_identifier="123", ft_institution_code="076")
    without = DecisionFactory()
    export = generate_cgpem("M", date(2025, 1, 31))
    by_nir = {r["NIR"]: r for r in records(Path(export.path))}
    assert by_nir[with_ft.beneficiary.nir_key]["IDENTIFIANT_PE"] == "1234567A"
    assert by_nir[with_ft.beneficiary.nir_key]["CODE_INSTITUTION_PE"] == "076"
    assert "IDENTIFIANT_PE" not in by_nir[bad_ft.beneficiary.nir_key]
    assert by_nir[bad_ft.beneficiary.nir_key]["CODE_INSTITUTION_PE"] == "076"
    assert "IDENTIFIANT_PE" not in by_nir[without.beneficiary.nir_key]
    assert (
        export.warnings[0]["message"] == "IDENTIFIANT_PE : 3 caractères au lieu de 8 ; valeur non transmise"
    )


@pytest.mark.parametrize(
    ("nir", "reason"),
    [
        ("ZZ 99", "13 ou 15 caractères"),  # as a PECGM record carried it (PECGM NIRs are not checked)
        ("1850782186", "13 ou 15 caractères"),
        ("9850782186822", "format"),  # no sex 9
        ("18507821868ZZ", "format"),
        # Arabic-Indic digits after the sex: digits for Python's \d, not for France Travail.
        ("1" + "".join(chr(0x660 + int(digit)) for digit in "850782186822"), "format"),
    ],
)
def test_an_invalid_nir_is_not_sent_but_the_decision_is_with_a_warning(nir, reason):
    """NIR is optional in the layout and cgpem.xsd: names, birth date and FT identifier still identify."""
    # Names set apart: the records are told by their birth name, and Faker's can coincide.
    person = BeneficiaryFactory(nir=nir, birth_name="Invalide")
    decision = DecisionFactory(beneficiary=person)
    FollowUp.objects.create(beneficiary=person, ft_identifier="1234567A", ft_institution_code="076")
    valid = DecisionFactory(beneficiary__birth_name="Valide")
    export = generate_cgpem("M", date(2025, 1, 31))

    assert export.records == 2
    assert export.excluded == []
    by_name = {r["NOM_NAISSANCE"]: r for r in records(Path(export.path))}
    written = by_name[person.birth_name]
    assert "NIR" not in written
    assert written["PRENOM"] == person.first_name
    assert written["DATE_NAISSANCE"] == person.birth_date.strftime("%Y%m%d")
    assert written["IDENTIFIANT_PE"] == "1234567A"
    assert by_name[valid.beneficiary.birth_name]["NIR"] == valid.beneficiary.nir_key
    assert export.warnings == [
        {"decision": decision.pk, "beneficiary": person.pk, "message": export.warnings[0]["message"]}
    ]
    message = export.warnings[0]["message"]
    assert message.startswith("NIR : ") and message.endswith(" ; valeur non transmise")
    assert reason in message
    assert person.nir_key not in message  # the report never quotes the value


def test_the_archive_has_the_contract_name_its_sha256_and_never_overwrites(settings):
    import hashlib

    DecisionFactory()
    first = generate_cgpem("M", date(2025, 1, 31))
    second = generate_cgpem("M", date(2025, 1, 31))
    assert Path(first.path) == settings.EXCHANGE_FILES_DIR / "cgpem" / "CGPEM_082_20250131_M.xml"
    assert Path(second.path).name == "CGPEM_082_20250131_M-2.xml"
    assert second.file_name == "CGPEM_082_20250131_M.xml"
    assert first.sha256 == hashlib.sha256(Path(first.path).read_bytes()).hexdigest()
    assert list((settings.EXCHANGE_FILES_DIR / "cgpem").glob("*.tmp")) == []


@pytest.mark.parametrize(
    ("slipped", "field", "value"),
    [
        (lambda record: {**record, "first_name": "Jean2"}, "PRENOM", "Jean2"),
        # In the referent's fragment, rendered once for all its decisions: checked all the same.
        (
            lambda record: {**record, FRAGMENT: Fragment(record[FRAGMENT], correspondent_phone="05630000AB")},
            "TEL_CORRESPONDANT",
            "05630000AB",
        ),
    ],
)
def test_an_invalid_file_is_never_archived_and_the_error_quotes_no_value(
    monkeypatch, settings, slipped, field, value
):
    DecisionFactory()
    real_write = cgpem.write_file

    def broken_writer(layout, header, records, destination, **options):
        # A value the fitting would have refused, slipped past it.
        records = [slipped(record) for record in records]
        return real_write(layout, header, records, destination, **options)

    monkeypatch.setattr(cgpem, "write_file", broken_writer)
    with pytest.raises(CgpemError) as error:
        generate_cgpem("M", date(2025, 1, 31))
    assert f"contrôle cgpem.xsd : ORIENTATION n° 1 non conforme, champ {field}" in str(error.value)
    assert value not in str(error.value)
    assert CgpemExport.objects.count() == 0
    assert CarriedDecision.objects.count() == 0  # written beside the validation, rolled back
    assert list((settings.EXCHANGE_FILES_DIR / "cgpem").iterdir()) == []


def test_no_archive_is_left_without_its_record(monkeypatch, settings):
    DecisionFactory()

    def failing_create(**kwargs):
        raise RuntimeError("database down")

    monkeypatch.setattr(CgpemExport.objects, "create", failing_create)
    with pytest.raises(RuntimeError):
        generate_cgpem("M", date(2025, 1, 31))
    assert list((settings.EXCHANGE_FILES_DIR / "cgpem").iterdir()) == []


def test_a_failure_beside_the_validation_leaves_neither_file_nor_record_nor_carried_rows(
    monkeypatch, settings
):
    """The decisions' rows are written in a thread while the file is validated: its failure
    fails the export like any other, after the validation, and rolls everything back."""
    first = DecisionFactory()
    previous = generate_cgpem("M", date(2025, 1, 31))
    DecisionFactory()
    real_mark = cgpem._mark_carried

    def failing_mark(ids, export, db):
        real_mark(ids, export, db=db)  # written, then the connection fails
        raise RuntimeError("database down")

    monkeypatch.setattr(cgpem, "_mark_carried", failing_mark)
    with pytest.raises(RuntimeError, match="database down"):
        generate_cgpem("M", date(2025, 1, 31))
    assert list(CgpemExport.objects.all()) == [previous]
    assert list(CarriedDecision.objects.values_list("decision_id", "export_id")) == [(first.pk, previous.pk)]
    assert sorted(path.name for path in (settings.EXCHANGE_FILES_DIR / "cgpem").iterdir()) == [
        Path(previous.path).name
    ]


@pytest.mark.postgres
def test_the_carried_rows_foreign_keys_are_checked_with_each_statement_then_deferred_again():
    """_mark_carried checks its foreign keys at once (beside the validation, not at the commit),
    still checks them, and leaves them deferred as Django declares them."""
    from django.db import IntegrityError, transaction

    decision = DecisionFactory()
    ghost = CgpemExport(pk=CgpemExport.objects.aggregate(top=Max("pk", default=0))["top"] + 1000)
    with pytest.raises(IntegrityError), transaction.atomic():
        cgpem._mark_carried([decision.pk], ghost)  # refused by the statement itself
    # Deferred again afterwards: a row pointing ahead of its export passes until the commit.
    with transaction.atomic():
        export = generate_cgpem("M", date(2025, 1, 31))
        CarriedDecision.objects.update(export_id=export.pk + 1000)
        CarriedDecision.objects.update(export_id=export.pk)
    assert CarriedDecision.objects.get().export_id == export.pk


def test_the_record_holds_the_archived_file_and_its_sha256():
    DecisionFactory()
    export = generate_cgpem("M", date(2025, 1, 31))
    export.refresh_from_db()
    path = Path(export.path)
    assert path.name == export.file_name
    assert path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == export.sha256


def test_round_trip_of_every_written_value():
    """What is written reads back, element by element, as the fitted values."""
    correspondent = CorrespondentFactory(
        last_name="Le Goff", first_name="Anne-Sophie", email="a.legoff@example.fr"
    )
    people = [BeneficiaryFactory(usage_name="Dupont-Moretti") for _ in range(5)]
    for index, person in enumerate(people):
        DecisionFactory(
            beneficiary=person,
            nature=f"0{index + 1}",
            decision_date=date(2025, 1, 10 + index),
            referent_body=correspondent.referent_body,
            correspondent=correspondent,
        )
    export = generate_cgpem("M", date(2025, 1, 31))
    read = {r["NIR"]: r for r in records(Path(export.path))}
    for index, person in enumerate(people):
        row = read[person.nir_key]
        assert row["NOM_NAISSANCE"] == person.birth_name
        assert row["NOM_MARITAL"] == "Dupont-Moretti"
        assert row["PRENOM"] == person.first_name
        assert row["DATE_NAISSANCE"] == person.birth_date.strftime("%Y%m%d")
        assert row["NATURE_ACCOMPAGNEMENT"] == f"0{index + 1}"
        assert row["DATE_DECISION_ORIENTATION"] == f"202501{10 + index}"
        assert row["NOM_CORRESPONDANT"] == "Le Goff"
        assert row["PRENOM_CORRESPONDANT"] == "Anne-Sophie"
        assert row["EMAIL_CORRESPONDANT"] == "a.legoff@example.fr"
        # Element order follows the layout.
        assert list(row) == [tag for tag in TAGS.values() if tag in row]


def test_export_reports_no_personal_data():
    DecisionFactory(beneficiary=BeneficiaryFactory(birth_name="Œ" * 13, first_name="Zoé"))
    export = generate_cgpem("M", date(2025, 1, 31))
    assert "OE" not in str(export.excluded) and "Zoé" not in str(export.excluded)


def test_ended_decisions_are_not_sent():
    person = BeneficiaryFactory()
    DecisionFactory(beneficiary=person, decision_date=date(2024, 1, 1), ended_on=date(2024, 6, 1))
    assert generate_cgpem("M", date(2025, 1, 31)).records == 0
    assert generate_cgpem("M", date(2024, 3, 31)).records == 1


def _next_month_end(day: date) -> date:
    first_of_next = (day.replace(day=1) + timedelta(days=31)).replace(day=1)
    return (first_of_next + timedelta(days=31)).replace(day=1) - timedelta(days=1)


def _tomorrow(day: date) -> date:
    return day + timedelta(days=1)


# The period end is computed from today when the test runs, not when pytest collects it: a
# suite that crosses midnight (Europe/Paris) would otherwise send "tomorrow" as today.
@pytest.mark.parametrize(
    ("periodicity", "period_end_from_today"),
    [
        ("M", lambda today: date(2099, 1, 31)),
        ("M", _next_month_end),  # a month end, but not reached yet
        ("H", _tomorrow),
        ("Q", _tomorrow),
    ],
    ids=["M-2099", "M-next-month-end", "H-tomorrow", "Q-tomorrow"],
)
def test_a_period_end_in_the_future_is_refused_and_nothing_is_written(
    settings, periodicity, period_end_from_today
):
    period_end = period_end_from_today(timezone.localdate())
    DecisionFactory(decision_date=date(2025, 1, 15))
    with pytest.raises(CgpemError, match="dans le futur"):
        generate_cgpem(periodicity, period_end)
    assert not CgpemExport.objects.exists()
    archive = settings.EXCHANGE_FILES_DIR / "cgpem"
    assert not archive.exists() or list(archive.iterdir()) == []


def test_a_monthly_stock_must_end_on_the_last_day_of_a_month(settings):
    DecisionFactory(decision_date=date(2025, 1, 10))
    with pytest.raises(CgpemError) as error:
        generate_cgpem("M", date(2025, 1, 15))
    assert "dernier jour d'un mois" in str(error.value)
    assert "31/01/2025" in str(error.value)  # the month end the user probably meant
    assert not CgpemExport.objects.exists()
    archive = settings.EXCHANGE_FILES_DIR / "cgpem"
    assert not archive.exists() or list(archive.iterdir()) == []
    assert generate_cgpem("M", date(2024, 2, 29)).file_name == "CGPEM_082_20240229_M.xml"  # leap year


def test_a_weekly_or_daily_flux_may_end_on_any_past_day():
    # H is the 7 days ending at the date, Q that day (docs/orientations.md): no fixed weekday.
    assert generate_cgpem("H", date(2025, 1, 15)).period_start == date(2025, 1, 9)
    assert generate_cgpem("Q", date(2025, 1, 15)).period_start == date(2025, 1, 15)
    assert generate_cgpem("Q", timezone.localdate()).period_end == timezone.localdate()


def test_round_trip_through_the_projects_reader():
    """The file reads back with the project's hardened, layout-driven reader, every record clean."""
    correspondent = CorrespondentFactory(
        last_name="N’Diaye", first_name="Zoé", service="Service Œuvres sociales"
    )
    people = [BeneficiaryFactory(birth_name=name) for name in ("D’Œuvray", "Łukasz", "Martin")]
    for person in people:
        DecisionFactory(
            beneficiary=person, referent_body=correspondent.referent_body, correspondent=correspondent
        )
    export = generate_cgpem("M", date(2025, 1, 31))
    reader = PecgmReader(export.path, layout=CGPEM)
    assert reader.header.periodicity == "M"
    assert reader.header.reference_date == date(2025, 1, 31)
    read = list(reader.records())
    assert [record.errors for record in read] == [[], [], []]
    assert reader.footer.record_count == 3
    by_nir = {record.values["nir"]: record.values for record in read}
    for person in people:
        values = by_nir[person.nir_key]
        assert values["birth_date"] == person.birth_date
        assert values["decision_date"] == date(2025, 1, 15)
        assert values["correspondent_last_name"] == "N'Diaye"
        assert values["correspondent_service"] == "Service OEuvres sociales"
    assert sorted(values["birth_name"] for values in by_nir.values()) == ["D'OEuvray", "Lukasz", "Martin"]


def test_the_query_and_the_shared_values_cover_every_element_of_the_layout_once():
    attrs = [attr for _path, _item, attr in CGPEM.detail.flat_fields()]
    assert set(cgpem.PERSON_COLUMNS) | cgpem.SHARED == set(attrs)
    assert not set(cgpem.PERSON_COLUMNS) & cgpem.SHARED


SAMPLES = [
    "1850782186822",
    "185072A186822",
    "ZZ99",
    "Martin",
    "Le Goff",
    "Anne-Sophie",
    "D'Arc",
    "Éloïse Müller",
    "ª µ º",
    "A" * 25,
    "A" * 26,
    "A" * 90,
    "Jean  Pierre",
    " Jean",
    "Jean ",
    "Jean\tPierre",
    "Jean\xa0Pierre",
    "Jean\nPierre",
    "Jean2",
    "Zoe\u0301",
    "D’Œuvray",
    "Łukasz",
    "李",
    "",
    " ",
    "0563000000",
    "05 63 00 00 00",
    "056300000",
    "056300000A",
    "05",
    "07",
    "1234567A",
    "076",
    "76",
    "a.legoff@example.fr",
    "a&b<c>@example.fr",
    "Service\x00RSA",
    "Service\x85RSA",
    "Organisme référent 3, 3 rue de la République 82000 Montauban",
]


@pytest.mark.parametrize(
    ("tag", "item", "attr", "fast"), [step for step in cgpem._PLAN if step[3] is not None]
)
def test_the_fast_path_only_vouches_for_values_fit_value_would_write_unchanged(tag, item, attr, fast):
    """The fast check is a shortcut, never a second rule: whatever it accepts, fit_value keeps as is."""
    accepted = 0
    for value in SAMPLES:
        if not fast(value):
            continue
        accepted += 1
        assert cgpem.fit_value(tag, item, attr, value) == (value, {}, None), value
    assert accepted  # each element's check lets its ordinary values through


FIT_VALUES = [None, *SAMPLES, date(1985, 7, 13), date(202, 1, 1), 5]


@pytest.mark.parametrize("plan", [cgpem._PLAN, cgpem._PERSON_PLAN, cgpem._REFERENT_PLAN])
def test_the_compiled_fit_makes_the_same_steps_as_fit_fields(plan):
    """compile_fit is fit_fields without the loop: same values written, same findings, in order."""

    def fitted(fit, values):
        out = {}
        try:
            findings = fit(values, out)
        except (AttributeError, TypeError) as exc:  # a date where a text is due, or the reverse
            return type(exc)
        return out, findings.reasons, findings.replaced, findings.warnings, findings is cgpem.NOTHING

    compiled = cgpem.compile_fit(plan)
    compared = 0
    for number, (_tag, _item, attr, _fast) in enumerate(plan):
        for value in FIT_VALUES:
            # One element varies; the others hold a value of their kind, to be fitted too.
            values = {
                other: date(1990, 2, 3) if item.format == DATE else SAMPLES[(number + shift) % len(SAMPLES)]
                for shift, (_t, item, other, _f) in enumerate(plan)
            }
            values[attr] = value
            assert fitted(compiled, values) == fitted(lambda v, o: cgpem.fit_fields(plan, v, o), values), (
                attr,
                value,
            )
            compared += 1
    assert compared == len(plan) * len(FIT_VALUES)


def test_a_decision_with_nothing_identifying_is_left_out_whichever_identifying_element_is_there():
    for attr in cgpem.IDENTIFYING:
        assert cgpem._identifies({attr: "X"}.get)
    assert not cgpem._identifies({attr: "" for attr in cgpem.IDENTIFYING}.get)
    assert not cgpem._identifies({"first_name": "Jean", "birth_date": date(1985, 7, 13)}.get)


def test_shared_referent_values_are_fitted_once_but_reported_for_each_decision():
    correspondent = CorrespondentFactory(last_name="Kowalczył", service="Œ" * 26)
    first, second = (
        DecisionFactory(correspondent=correspondent, referent_body=correspondent.referent_body)
        for _ in range(2)
    )
    long_body = ReferentBodyFactory()
    type(long_body).objects.filter(pk=long_body.pk).update(name="N" * 60, address="A" * 40)
    refused = [DecisionFactory(referent_body=long_body, correspondent=None) for _ in range(2)]
    export = generate_cgpem("M", date(2025, 1, 31))

    assert export.records == 2
    assert [(item["decision"], item["field"]) for item in export.transliterations] == [
        (first.pk, "NOM_CORRESPONDANT"),
        (first.pk, "SERVICE_CORRESPONDANT"),
        (second.pk, "NOM_CORRESPONDANT"),
        (second.pk, "SERVICE_CORRESPONDANT"),
    ]
    assert [(item["decision"], item["beneficiary"]) for item in export.warnings] == [
        (first.pk, first.beneficiary_id),
        (second.pk, second.beneficiary_id),
    ]
    assert [item["decision"] for item in export.excluded] == [decision.pk for decision in refused]
    assert all(item["reasons"][0].startswith("ORGANISME_REFERENT : 101") for item in export.excluded)
    for record in records(Path(export.path)):
        assert record["NOM_CORRESPONDANT"] == "Kowalczyl"
        assert record["SERVICE_CORRESPONDANT"] == "OE" * 25


def test_whitespace_is_collapsed_before_writing():
    person = BeneficiaryFactory(first_name="Jean\xa0 Pierre", birth_name=" Le  Goff ")
    DecisionFactory(beneficiary=person)
    export = generate_cgpem("M", date(2025, 1, 31))
    record = records(Path(export.path))[0]
    assert (record["PRENOM"], record["NOM_NAISSANCE"]) == ("Jean Pierre", "Le Goff")


def _cut_points(data: bytes) -> dict[str, int]:
    """Where a write can stop, found in a real generated file."""
    second = data.index(b"<ORIENTATION>", data.index(b"<ORIENTATION>") + 1)
    footer = data.index(b"<FIN>")
    return {
        "inside the header": data.index(b"<ENTETE>") + 20,
        "inside a tag name": data.index(b"<ORIENTATION>") + 5,
        "inside a record": data.index(b"<NOM_NAISSANCE>", second) + 3,
        "between two records": second,
        "after the last record, before the footer": footer,
        "inside the footer": data.index(b"<NB_ENREGISTREMENTS>") + 21,
        "after the footer, before the root's end": data.index(b"</FIN>") + len(b"</FIN>") + 1,
        "one byte short": len(data) - 1,
    }


CUTS = list(_cut_points(b"<ENTETE><ORIENTATION><ORIENTATION><NOM_NAISSANCE><FIN><NB_ENREGISTREMENTS></FIN>"))


@pytest.mark.parametrize("where", CUTS)
def test_a_file_cut_anywhere_fails_the_validation(tmp_path, where):
    DecisionFactory.create_batch(3)
    export = generate_cgpem("M", date(2025, 1, 31))
    data = Path(export.path).read_bytes()
    truncated = tmp_path / "truncated.xml"
    truncated.write_bytes(data[: _cut_points(data)[where]])
    with pytest.raises(CgpemError, match="^contrôle de complétude : "):
        cgpem.validate_file(truncated)
    cgpem.validate_file(Path(export.path))  # the whole file passes


def test_every_single_byte_cut_fails_the_validation(tmp_path):
    """Whatever lxml does with a cut document: no prefix of the file passes."""
    DecisionFactory.create_batch(2)
    data = Path(generate_cgpem("M", date(2025, 1, 31)).path).read_bytes()
    truncated = tmp_path / "truncated.xml"
    passed = []
    for cut in range(len(data)):
        truncated.write_bytes(data[:cut])
        try:
            cgpem.validate_file(truncated)
        except CgpemError:
            continue
        passed.append(cut)
    assert passed == []


def test_a_cut_file_fails_even_if_the_parser_ends_it_quietly(tmp_path, monkeypatch):
    """The proof of completeness is validate_file's own: a parser that ends a cut document
    without an error (lxml 6.2's iterparse with a schema does) changes nothing."""
    real = etree.iterparse

    def quiet_iterparse(*args, **kwargs):
        try:
            yield from real(*args, **kwargs)
        except etree.XMLSyntaxError:
            return

    DecisionFactory.create_batch(3)
    data = Path(generate_cgpem("M", date(2025, 1, 31)).path).read_bytes()
    monkeypatch.setattr(cgpem.etree, "iterparse", quiet_iterparse)
    truncated = tmp_path / "truncated.xml"
    for cut in _cut_points(data).values():
        truncated.write_bytes(data[:cut])
        with pytest.raises(CgpemError, match="^contrôle de complétude : élément racine CGPEM non refermé"):
            cgpem.validate_file(truncated)


def _edited(tmp_path, old: bytes, new: bytes) -> Path:
    DecisionFactory.create_batch(3)
    data = Path(generate_cgpem("M", date(2025, 1, 31)).path).read_bytes()
    assert old in data
    path = tmp_path / "edited.xml"
    path.write_bytes(data.replace(old, new, 1))
    return path


def test_a_footer_that_miscounts_the_records_fails_the_validation(tmp_path):
    path = _edited(tmp_path, b"<NB_ENREGISTREMENTS>3<", b"<NB_ENREGISTREMENTS>4<")
    with pytest.raises(
        CgpemError, match="contrôle du nombre d'enregistrements : FIN annonce 4, le fichier en contient 3"
    ):
        cgpem.validate_file(path)


def test_a_whole_record_missing_fails_the_validation(tmp_path):
    """Well-formed, every element valid, but one record short of the footer's count."""
    DecisionFactory.create_batch(3)
    data = Path(generate_cgpem("M", date(2025, 1, 31)).path).read_bytes()
    first = data.index(b"<ORIENTATION>")
    second = data.index(b"<ORIENTATION>", first + 1)
    path = tmp_path / "short.xml"
    path.write_bytes(data[:first] + data[second:])
    with pytest.raises(CgpemError, match="FIN annonce 3, le fichier en contient 2"):
        cgpem.validate_file(path)


def test_a_footer_of_another_file_fails_the_validation(tmp_path):
    path = _edited(
        tmp_path,
        b"<TYPE_ENREGISTREMENT>F</TYPE_ENREGISTREMENT><DEPARTEMENT>082<",
        b"<TYPE_ENREGISTREMENT>F</TYPE_ENREGISTREMENT><DEPARTEMENT>081<",
    )
    with pytest.raises(CgpemError, match="contrôle de cohérence : DEPARTEMENT ou DATE_REFERENCE de FIN"):
        cgpem.validate_file(path)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (b"</FIN>", b"</FIN><FIN/>", "élément FIN inattendu"),
        (b"<ENTETE>", b"<ORIENTATION/><ENTETE>", "élément ORIENTATION inattendu"),
        (b"</ENTETE>", b"</ENTETE>texte", "texte hors enregistrement"),
        (b"</FIN>", b"</FIN>texte", "texte hors enregistrement près de CGPEM"),
        # Names validate_file asks iterparse no event for: found as siblings out of place.
        (b"</ENTETE>", b"</ENTETE><AUTRE/>", "élément AUTRE inattendu"),
        (b"</ENTETE>", b"</ENTETE><AUTRE><ORIENTATION/></AUTRE>", "élément AUTRE inattendu"),
        (b"</FIN>", b"</FIN><AUTRE>x</AUTRE>", "élément AUTRE inattendu"),
        (b"</ENTETE>", b"</ENTETE><!-- note -->", "élément commentaire ou instruction inattendu"),
        (b"</FIN>", b"</FIN><?pi x?>", "élément commentaire ou instruction inattendu"),
    ],
)
def test_elements_out_of_place_fail_the_validation(tmp_path, old, new, message):
    path = _edited(tmp_path, old, new)
    with pytest.raises(CgpemError, match=f"contrôle de structure : {message}"):
        cgpem.validate_file(path)


def test_a_date_that_cannot_be_written_leaves_the_decision_out_not_the_file():
    # Old data typed before the form refused it: year 202 for 2022 (strftime writes 7 digits).
    typo = DecisionFactory(decision_date=date(202, 11, 20))
    fine = DecisionFactory()
    export = generate_cgpem("M", date(2025, 1, 31))
    assert export.records == 1
    assert [r["DATE_DECISION_ORIENTATION"] for r in records(Path(export.path))] == ["20250115"]
    assert export.excluded == [
        {
            "decision": typo.pk,
            "beneficiary": typo.beneficiary_id,
            "reasons": ["DATE_DECISION_ORIENTATION : année sur moins de 4 chiffres (date mal saisie)"],
        }
    ]
    assert fine.pk not in [entry["decision"] for entry in export.excluded]
