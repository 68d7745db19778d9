import json
from datetime import date
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from intake.decision_csv import import_orientations
from orientations.models import Correspondent, OrientationDecision, ReferentBody
from tests.factories import BeneficiaryFactory
from tests.orientations.factories import ReferentBodyFactory

pytestmark = pytest.mark.django_db

HEADER = (
    "nir;nom_naissance;prenom;date_naissance;nature;date_decision;organisme_referent;"
    "nom_correspondant;prenom_correspondant;tel_correspondant;email_correspondant;service_correspondant"
)


def write(tmp_path, lines, encoding="utf-8", name="orientations.csv"):
    path = tmp_path / name
    path.write_bytes("\n".join(lines).encode(encoding))
    return path


@pytest.fixture
def people():
    return {
        "by_nir": BeneficiaryFactory(birth_name="Colas", first_name="Daniel", birth_date=date(1985, 7, 13)),
        "by_name": BeneficiaryFactory(
            nir="", birth_name="Lefèvre", first_name="Éloïse", birth_date=date(1990, 3, 2)
        ),
    }


def good_lines(people):
    colas = people["by_nir"]
    return [
        HEADER,
        f"{colas.nir};COLAS;DANIEL;13/07/1985;05;2025-01-15;France Travail Montauban;Martin;Paul;"
        "05 63 00 00 00;p.martin@example.fr;Insertion",
        ";LEFEVRE;Eloise;1990-03-02;1;15/01/2025;France Travail Montauban;Martin;Paul;0563000000;"
        "p.martin@example.fr;Insertion",
    ]


def test_import_finds_people_creates_reference_data_and_is_idempotent(tmp_path, people):
    path = write(tmp_path, good_lines(people))
    summary = import_orientations(path)
    assert summary.errors == []
    assert (summary.created, summary.referent_bodies_created, summary.correspondents_created) == (2, 1, 1)
    decision = OrientationDecision.objects.get(beneficiary=people["by_name"])
    assert (decision.nature, decision.decision_date, decision.source) == ("01", date(2025, 1, 15), "import")
    assert decision.correspondent.phone == "0563000000"
    again = import_orientations(path)
    assert (again.created, again.unchanged, again.referent_bodies_created, again.correspondents_created) == (
        0,
        2,
        0,
        0,
    )
    assert OrientationDecision.objects.count() == 2
    assert ReferentBody.objects.count() == 1
    assert Correspondent.objects.count() == 1


def test_existing_body_is_reused_by_name_or_by_name_and_address(tmp_path, people):
    body = ReferentBodyFactory(name="CCAS Moissac", address="1 place Durand 82200 Moissac")
    colas = people["by_nir"]
    lines = [
        HEADER,
        f"{colas.nir};Colas;Daniel;1985-07-13;01;2024-01-10;ccas moissac;;;;;",
        f"{colas.nir};Colas;Daniel;1985-07-13;02;2024-06-10;CCAS Moissac 1 place Durand 82200 Moissac;;;;;",
    ]
    summary = import_orientations(write(tmp_path, lines))
    assert summary.errors == [] and summary.referent_bodies_created == 0
    assert set(OrientationDecision.objects.values_list("referent_body", flat=True)) == {body.pk}
    first, second = OrientationDecision.objects.order_by("decision_date")
    assert first.ended_on == second.decision_date  # history threaded, no overlap


def test_bad_rows_are_reported_with_line_and_reason_and_good_rows_kept(tmp_path, people):
    colas = people["by_nir"]
    lines = [
        *good_lines(people)[:2],
        f"{colas.nir};Colas;Daniel;1985-07-13;09;2025-01-16;FT;;;;;",
        ";Inconnu;Personne;1970-01-01;01;2025-01-15;FT;;;;;",
        f"{colas.nir};Colas;Daniel;1985-07-13;01;2025-02-01;FT;Roux;Léa;0563;;",
        f"{colas.nir};Colas;Daniel;1985-07-13;01;2025-02-02;FT;Roux;Léa;;pas-un-courriel;",
        f"{colas.nir};Colas;Daniel;1985-07-13;01;31/02/2025;FT;;;;;",
        f"{colas.nir};Colas;Daniel;1985-07-13;01;2025-01-15;Autre organisme;;;;;",
        f"{colas.nir};Colas;Daniel;1985-07-13;01;2025-02-03;{'X' * 91};;;;;",
        f"{colas.nir};;Daniel;1985-07-13;01;2025-02-04;FT;;;;;",
    ]
    summary = import_orientations(write(tmp_path, lines))
    errors = {error.line: (error.field, error.message) for error in summary.errors}
    assert summary.created == 1
    assert errors[3] == ("nature", "nature « 09 » inconnue (01 à 06)")
    assert errors[4] == ("nom_naissance", "bénéficiaire introuvable")
    assert errors[5][0] == "tel_correspondant" and "10 chiffres" in errors[5][1]
    assert errors[6][0] == "email_correspondant"
    assert errors[7][0] == "date_decision"
    assert errors[8][0] == "date_decision" and "autre décision existe déjà" in errors[8][1]
    assert errors[9] == ("organisme_referent", "trop long (91 caractères, 90 au plus)")
    assert errors[10] == ("nom_naissance", "valeur obligatoire manquante")
    assert ReferentBody.objects.count() == 1  # nothing left behind by refused rows


def test_nir_known_with_another_birth_date_is_not_guessed(tmp_path, people):
    colas = people["by_nir"]
    lines = [HEADER, f"{colas.nir};Colas;Daniel;1985-07-14;01;2025-01-15;FT;;;;;"]
    summary = import_orientations(write(tmp_path, lines))
    assert summary.created == 0
    assert summary.errors[0].message.startswith("rapprochement incertain : NIR connu avec une autre date")


def test_latin1_comma_separated_file(tmp_path, people):
    lines = [line.replace(";", ",") for line in good_lines(people)]
    summary = import_orientations(write(tmp_path, lines, encoding="latin-1"))
    assert summary.errors == [] and summary.created == 2


def test_missing_header_columns_reject_the_whole_file(tmp_path, people):
    path = write(tmp_path, ["nir;nom_naissance;prenom", "1;a;b"])
    with pytest.raises(CommandError, match="colonnes obligatoires absentes"):
        call_command("import_orientations", str(path))
    assert OrientationDecision.objects.count() == 0


def test_command_json_and_dry_run(tmp_path, people):
    path = write(tmp_path, good_lines(people))
    out = StringIO()
    call_command("import_orientations", str(path), "--json", "--dry-run", stdout=out)
    report = json.loads(out.getvalue())
    assert report["created"] == 2 and report["rejected"] == 0
    assert set(report) == {
        "file",
        "rows",
        "created",
        "unchanged",
        "referent_bodies_created",
        "correspondents_created",
        "rejected",
        "errors",
    }
    assert OrientationDecision.objects.count() == 0
    out = StringIO()
    call_command("import_orientations", str(path), stdout=out)
    assert "2 décisions créées" in out.getvalue()
    assert OrientationDecision.objects.count() == 2


def test_no_query_per_row(tmp_path):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def import_for(count: int, name: str) -> int:
        people = [BeneficiaryFactory() for _ in range(count)]
        lines = [HEADER] + [
            f"{p.nir};{p.birth_name};{p.first_name};{p.birth_date:%Y-%m-%d};0{n % 6 + 1};"
            f"2024-0{n % 9 + 1}-10;Organisme {n % 2};Martin;Paul;0563000000;;"
            for n, p in enumerate(people)
        ]
        path = write(tmp_path, lines, name=name)
        with CaptureQueriesContext(connection) as queries:
            summary = import_orientations(path)
        assert summary.errors == [] and summary.created == count
        return len(queries)

    few = import_for(3, "few.csv")
    many = import_for(60, "many.csv")
    assert many <= few + 2  # reference data found instead of created; not one more query per row


def test_decisions_of_one_person_arriving_in_any_order_are_threaded(tmp_path, people):
    from orientations.decisions import DecisionData, record_decision

    colas = people["by_nir"]
    body = ReferentBodyFactory(name="FT")
    record_decision(colas, DecisionData("01", date(2024, 6, 1), body))
    lines = [
        HEADER,
        f"{colas.nir};Colas;Daniel;1985-07-13;03;2024-09-01;FT;;;;;",
        f"{colas.nir};Colas;Daniel;1985-07-13;02;2024-01-01;FT;;;;;",
        f"{colas.nir};Colas;Daniel;1985-07-13;04;2024-03-01;FT;;;;;",
    ]
    summary = import_orientations(write(tmp_path, lines))
    assert summary.errors == [] and summary.created == 3
    timeline = list(
        OrientationDecision.objects.filter(beneficiary=colas)
        .order_by("decision_date")
        .values_list("nature", "decision_date", "ended_on")
    )
    assert timeline == [
        ("02", date(2024, 1, 1), date(2024, 3, 1)),
        ("04", date(2024, 3, 1), date(2024, 6, 1)),
        ("01", date(2024, 6, 1), date(2024, 9, 1)),
        ("03", date(2024, 9, 1), None),
    ]


def test_a_day_twice_in_the_file_is_kept_once_or_refused(tmp_path, people):
    colas = people["by_nir"]
    lines = [
        HEADER,
        f"{colas.nir};Colas;Daniel;1985-07-13;03;2024-09-01;FT;Roux;Léa;;;",
        f"{colas.nir};Colas;Daniel;1985-07-13;03;2024-09-01;ft;roux;léa;;;",
        f"{colas.nir};Colas;Daniel;1985-07-13;05;2024-09-01;FT;;;;;",
        "nir;;;;;;;;;;;",
    ]
    summary = import_orientations(write(tmp_path, lines))
    assert (summary.created, summary.unchanged) == (1, 1)
    assert [(error.line, error.field) for error in summary.errors] == [
        (4, "date_decision"),
        (5, "nom_naissance"),
    ]
    assert OrientationDecision.objects.get(beneficiary=colas).correspondent.last_name == "Roux"


def test_dry_run_leaves_nothing(tmp_path, people):
    summary = import_orientations(write(tmp_path, good_lines(people)), dry_run=True)
    assert summary.created == 2
    assert (
        OrientationDecision.objects.count()
        == ReferentBody.objects.count()
        == Correspondent.objects.count()
        == 0
    )


def test_stray_quote_rejects_the_whole_file(tmp_path, people):
    lines = good_lines(people)
    lines.insert(2, lines[1].replace(";Insertion", ';"Insertion'))  # never closed
    path = write(tmp_path, lines)
    with pytest.raises(CommandError, match=r"ligne 3, colonne service_correspondant : guillemet non refermé"):
        call_command("import_orientations", str(path))
    assert OrientationDecision.objects.count() == ReferentBody.objects.count() == 0


def test_windows_1252_file_finds_people_and_keeps_names(tmp_path):
    person = BeneficiaryFactory(nir="", birth_name="Lecœur", first_name="Zoé", birth_date=date(1987, 4, 1))
    lines = [
        HEADER,
        ";LECŒUR;Zoé;1987-04-01;1;2024-03-01;Maison d’Œuvre;Lefèvre;Zoé;;;Service d’insertion",
    ]
    summary = import_orientations(write(tmp_path, lines, encoding="cp1252"))
    assert summary.errors == [] and summary.created == 1
    decision = OrientationDecision.objects.get(beneficiary=person)
    assert decision.referent_body.name == "Maison d’Œuvre"
    assert decision.correspondent.service == "Service d’insertion"


def test_control_character_is_refused_with_line_and_column(tmp_path, people):
    lines = good_lines(people)
    lines[2] = lines[2].replace(";Insertion", ";Service d\x92insertion")  # saved as UTF-8 after a bad read
    summary = import_orientations(write(tmp_path, lines))
    assert summary.created == 1
    [error] = summary.errors
    assert (error.line, error.field) == (3, "service_correspondant")
    assert error.message.startswith("caractère invisible U+0092 (position 10)")


def test_value_over_the_csv_limit_rejects_the_whole_file(tmp_path, people):
    lines = good_lines(people)
    lines[2] = lines[2].replace(";Insertion", ";" + "Insertion " * 20_000)
    path = write(tmp_path, lines)
    with pytest.raises(CommandError, match=r"ligne 3 : valeur de plus de 131 072 caractères"):
        call_command("import_orientations", str(path))
    assert OrientationDecision.objects.count() == ReferentBody.objects.count() == 0


def test_a_decision_before_the_rsa_or_before_the_persons_birth_is_refused(tmp_path, people):
    colas = people["by_nir"]
    young = BeneficiaryFactory(birth_name="Rey", first_name="Lina", birth_date=date(2010, 1, 1))
    lines = [
        HEADER,
        f"{colas.nir};Colas;Daniel;1985-07-13;01;0202-11-20;CCAS Moissac;;;;;",
        f"{colas.nir};Colas;Daniel;1985-07-13;01;2009-05-31;CCAS Moissac;;;;;",
        f"{young.nir};Rey;Lina;2010-01-01;01;2009-06-01;CCAS Moissac;;;;;",
        f"{colas.nir};Colas;Daniel;1985-07-13;01;2009-06-01;CCAS Moissac;;;;;",
    ]
    summary = import_orientations(write(tmp_path, lines))
    assert [(error.line, error.field, error.message) for error in summary.errors] == [
        (2, "date_decision", "date antérieure au 01/06/2009 (création du RSA)"),
        (3, "date_decision", "date antérieure au 01/06/2009 (création du RSA)"),
        (4, "date_decision", "date antérieure à la naissance de la personne"),
    ]
    assert list(OrientationDecision.objects.values_list("beneficiary", "decision_date")) == [
        (colas.pk, date(2009, 6, 1))
    ]
