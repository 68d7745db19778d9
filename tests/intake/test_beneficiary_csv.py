import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from beneficiaries.demo import fake_people
from beneficiaries.models import Beneficiary, Source
from intake.beneficiary_csv import import_beneficiaries
from tests.factories import BeneficiaryFactory, namesakes

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "beneficiaires.csv"
HEADER = "nir,nom_naissance,nom_usage,prenom,date_naissance,num_caf,num_msa,code_insee_commune"


def write(tmp_path, text: str, encoding="utf-8", name="b.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def rows_for(people, sep=",", date_format="%Y-%m-%d") -> str:
    lines = [HEADER.replace(",", sep)]
    for p in people:
        lines.append(
            sep.join(
                [
                    p["nir"],
                    p["birth_name"],
                    p["usage_name"],
                    p["first_name"],
                    p["birth_date"].strftime(date_format),
                    p["caf_number"],
                    "",
                    p["commune_code"],
                ]
            )
        )
    return "\n".join(lines) + "\n"


@pytest.mark.django_db
def test_sample_file_loads_and_is_idempotent():
    first = import_beneficiaries(SAMPLE)
    assert (first.rows, first.created, first.errors) == (25, 25, [])
    second = import_beneficiaries(SAMPLE)
    assert (second.created, second.updated, second.unchanged) == (0, 0, 25)
    assert Beneficiary.objects.count() == 25
    colas = Beneficiary.objects.get(nir_key="1850782186822")
    assert colas.birth_name == "Colas" and colas.birth_date.isoformat() == "1985-07-13"


@pytest.mark.django_db
def test_latin1_semicolon_and_french_dates(tmp_path):
    people = fake_people(5, seed=1)
    people[0]["birth_name"] = "Lefèvre"
    path = write(tmp_path, rows_for(people, sep=";", date_format="%d/%m/%Y"), encoding="latin-1")
    summary = import_beneficiaries(path)
    assert summary.created == 5 and summary.errors == []
    assert Beneficiary.objects.filter(birth_name="Lefèvre").count() == 1


@pytest.mark.django_db
def test_utf8_bom_and_extra_columns(tmp_path):
    people = fake_people(2, seed=2)
    text = rows_for(people).replace(HEADER, HEADER + ",couleur").replace("\n", ",bleu\n")
    text = text.replace(HEADER + ",couleur,bleu", HEADER + ",couleur")
    path = write(tmp_path, "\ufeff" + text)
    summary = import_beneficiaries(path)
    assert summary.created == 2, summary.errors


@pytest.mark.django_db
def test_bad_rows_are_reported_and_good_rows_kept(tmp_path):
    people = fake_people(4, seed=3)
    text = rows_for(people)
    lines = text.splitlines()
    lines[2] = lines[2].replace(
        people[1]["nir"],
        people[1]["nir"][:-1] + "9" if people[1]["nir"][-1] != "9" else people[1]["nir"][:-1] + "8",
    )
    lines[3] = lines[3].replace(people[2]["birth_date"].isoformat(), "31/02/1990")
    lines.append(",,,Jean,1980-01-01,,,")
    path = write(tmp_path, "\n".join(lines) + "\n")
    summary = import_beneficiaries(path)
    assert summary.created == 2
    errors = {(e.line, e.field): e.message for e in summary.errors}
    assert errors[(3, "nir")] == "la clé du NIR est fausse"
    assert "31/02/1990" in errors[(4, "date_naissance")]
    assert errors[(6, "nom_naissance")] == "valeur obligatoire manquante"


@pytest.mark.django_db
def test_update_changes_only_what_changed(tmp_path):
    people = fake_people(3, seed=4)
    import_beneficiaries(write(tmp_path, rows_for(people)))
    people[0]["commune_code"] = "82001"
    summary = import_beneficiaries(write(tmp_path, rows_for(people), name="c.csv"))
    assert (summary.updated, summary.unchanged) == (1, 2)
    assert Beneficiary.objects.get(nir_key=people[0]["nir"][:13]).commune_code == "82001"


@pytest.mark.django_db
def test_an_identity_corrected_by_the_import_is_dated_for_the_cgpem_flux(tmp_path):
    """The CGPEM flux sends a person's decisions again when their identity is corrected (issue 21)."""
    people = fake_people(3, seed=5)
    import_beneficiaries(write(tmp_path, rows_for(people)))
    assert not Beneficiary.objects.filter(identity_changed_at__isnull=False).exists()
    people[0]["first_name"] = "Marie-Noëlle"  # identity
    people[1]["commune_code"] = "82001"  # not identity
    import_beneficiaries(write(tmp_path, rows_for(people), name="c.csv"))
    corrected = Beneficiary.objects.filter(identity_changed_at__isnull=False)
    assert list(corrected.values_list("first_name", flat=True)) == ["Marie-Noëlle"]


@pytest.mark.django_db
def test_same_nir_other_birth_date_is_an_error(tmp_path):
    people = fake_people(1, seed=5)
    import_beneficiaries(write(tmp_path, rows_for(people)))
    people[0]["birth_date"] = people[0]["birth_date"].replace(year=people[0]["birth_date"].year - 1)
    summary = import_beneficiaries(write(tmp_path, rows_for(people), name="c.csv"))
    assert [e.field for e in summary.errors] == ["date_naissance"]
    assert Beneficiary.objects.count() == 1


@pytest.mark.django_db
def test_france_travail_only_person_becomes_local(tmp_path):
    people = fake_people(1, seed=6)
    Beneficiary.objects.create(
        nir=people[0]["nir"][:13],
        birth_name=people[0]["birth_name"],
        first_name=people[0]["first_name"],
        birth_date=people[0]["birth_date"],
        source=Source.FRANCE_TRAVAIL,
    )
    summary = import_beneficiaries(write(tmp_path, rows_for(people)))
    assert summary.updated == 1
    beneficiary = Beneficiary.objects.get()
    assert beneficiary.source == Source.LOCAL
    assert beneficiary.nir == people[0]["nir"]  # the full NIR with its key now


def test_missing_required_column_rejects_file(tmp_path):
    path = write(tmp_path, "nir,nom_naissance\n1850782186822,Colas\n")
    with pytest.raises(
        CommandError, match="colonnes obligatoires absentes de l'en-tête : prenom, date_naissance"
    ):
        call_command("import_beneficiaries", str(path))


@pytest.mark.parametrize(
    ("separator", "encoding", "hint"),
    [
        ("\t", "utf-8", "séparées par des tabulations"),
        ("|", "utf-8", "séparées par des barres verticales"),
        (";", "utf-16", "enregistré en UTF-16"),
    ],
)
def test_a_header_in_another_format_says_which(tmp_path, separator, encoding, hint):
    header = separator.join(["nir", "nom_naissance", "prenom", "date_naissance", "code_insee_commune"])
    path = tmp_path / "beneficiaires.csv"
    path.write_bytes(f"{header}\n".encode(encoding))
    with pytest.raises(CommandError, match=hint):
        call_command("import_beneficiaries", str(path))


@pytest.mark.django_db
def test_command_json_and_dry_run(tmp_path):
    out = io.StringIO()
    call_command("import_beneficiaries", str(SAMPLE), "--json", "--dry-run", stdout=out)
    summary = json.loads(out.getvalue())
    assert summary["created"] == 25 and summary["rejected"] == 0
    assert set(summary) == {
        "file",
        "rows",
        "created",
        "updated",
        "unchanged",
        "referents",
        "rejected",
        "errors",
    }
    assert Beneficiary.objects.count() == 0
    # In words, a simulation says so before its figures.
    out = io.StringIO()
    call_command("import_beneficiaries", str(SAMPLE), "--dry-run", stdout=out)
    assert out.getvalue().startswith("[simulation, rien n'est enregistré] 25 lignes : 25 créées")
    assert Beneficiary.objects.count() == 0


@pytest.mark.django_db
def test_seed_demo_is_safe_to_rerun():
    call_command("seed_demo", "--count", "40", stdout=io.StringIO())
    call_command("seed_demo", "--count", "40", stdout=io.StringIO())
    from accounts.models import User

    assert Beneficiary.objects.count() == 40
    assert sorted(User.objects.values_list("role", flat=True)) == [
        "admin",
        "orientation_officer",
        "social_worker",
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "opening",
    [
        lambda value: '"' + value,  # a stray quote: the csv module reads on until the next one
        lambda value: '"' + value + '\n"',  # a quoted value on two lines, valid CSV but never meant
    ],
    ids=["stray-quote", "quoted-line-break"],
)
def test_value_spanning_lines_rejects_the_whole_file_without_quoting_it(tmp_path, opening):
    people = fake_people(23, seed=7)
    lines = rows_for(people).splitlines()
    # line 3 (second person): the commune code opens a quote that nothing closes
    fields = lines[2].split(",")
    fields[-1] = opening(fields[-1])
    lines[2] = ",".join(fields)
    path = write(tmp_path, "\n".join(lines) + "\n")
    with pytest.raises(CommandError) as raised:
        call_command("import_beneficiaries", str(path), "--json", stdout=io.StringIO())
    message = str(raised.value)
    assert message.startswith(f"{path} : ligne 3, colonne code_insee_commune : guillemet non refermé")
    assert Beneficiary.objects.count() == 0
    for person in people[2:]:  # the swallowed lines are not echoed
        assert person["nir"] not in message and person["birth_name"] not in message


@pytest.mark.django_db
def test_errors_give_physical_line_numbers_and_short_excerpts(tmp_path):
    people = fake_people(3, seed=8)
    lines = rows_for(people).splitlines()
    lines.insert(2, "")  # a blank line: the next records are on lines 4 and 5
    pasted = f"{people[2]['birth_name']} {people[2]['first_name']} {people[2]['nir']}"
    lines[4] = lines[4].rsplit(",", 1)[0] + "," + pasted  # in the commune code column
    summary = import_beneficiaries(write(tmp_path, "\n".join(lines) + "\n"))
    assert summary.created == 2
    [error] = summary.errors
    assert (error.line, error.field) == (5, "code_insee_commune")
    assert pasted not in error.message and people[2]["nir"] not in error.message
    assert f"« {pasted[:20]}… »" in error.message


@pytest.mark.django_db
def test_windows_1252_file_keeps_its_typographic_characters(tmp_path):
    # Excel's "CSV (séparateur: point-virgule)": œ Œ ’ … are bytes 0x80–0x9F, control characters in Latin-1.
    people = fake_people(2, seed=9)
    people[0]["birth_name"], people[0]["first_name"] = "Lecœur", "Zoé"
    people[1]["birth_name"], people[1]["usage_name"] = "CŒUR", "d’Arc"
    path = write(tmp_path, rows_for(people, sep=";"), encoding="cp1252")
    summary = import_beneficiaries(path)
    assert summary.created == 2 and summary.errors == []
    assert Beneficiary.objects.filter(birth_name="Lecœur", first_name="Zoé").count() == 1
    assert Beneficiary.objects.filter(birth_name="CŒUR", usage_name="d’Arc").count() == 1


@pytest.mark.django_db
def test_control_characters_are_refused_with_line_and_column(tmp_path):
    people = fake_people(4, seed=10)
    people[0]["birth_name"] = "Jeanne d\x92Arc"  # Windows-1252 read as Latin-1, then saved as UTF-8
    people[1]["first_name"] = "Ma\x00rie"  # a NUL byte: PostgreSQL refuses it
    people[2]["birth_name"] = "Lefèvre"
    path = write(tmp_path, rows_for(people))
    summary = import_beneficiaries(path)
    assert summary.created == 2
    errors = {(error.line, error.field): error.message for error in summary.errors}
    assert set(errors) == {(2, "nom_naissance"), (3, "prenom")}
    assert errors[(2, "nom_naissance")].startswith("caractère invisible U+0092 (position 9)")
    assert not Beneficiary.objects.filter(birth_name__regex=r"[\x00-\x1f\x7f-\x9f]").exists()


@pytest.mark.django_db
def test_file_neither_utf8_nor_windows_1252_is_read_as_latin1_and_its_controls_refused(tmp_path):
    people = fake_people(2, seed=11)
    people[0]["birth_name"] = "Lefèvre"
    text = rows_for(people, sep=";").replace(people[1]["birth_name"], "Ab\x9dcd")
    path = tmp_path / "b.csv"
    path.write_bytes(text.encode("latin-1"))  # 0x9D: no character in Windows-1252
    summary = import_beneficiaries(path)
    assert [(error.line, error.field) for error in summary.errors] == [(3, "nom_naissance")]
    assert Beneficiary.objects.get().birth_name == "Lefèvre"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("after_line_2", "expected"),
    [
        # one value (the commune code) over the csv module's limit (131,072 characters)
        (
            lambda line: line.rsplit(",", 1)[0] + "," + "X" * 200_000,
            r"ligne 3 : valeur de plus de 131 072 caractères",
        ),
        # a stray quote that swallows more than the limit before the file ends
        (lambda line: line + ',"' + "\n" + "\n".join([line] * 3_000), r"ligne 3 : guillemet non refermé"),
    ],
    ids=["one-huge-value", "stray-quote-swallowing-more"],
)
def test_value_over_the_csv_limit_rejects_the_whole_file(tmp_path, after_line_2, expected):
    people = fake_people(3, seed=12)
    lines = rows_for(people).splitlines()
    lines[2] = after_line_2(lines[2])
    path = write(tmp_path, "\n".join(lines) + "\n")
    with pytest.raises(CommandError, match=f"^{path} : {expected}") as raised:
        call_command("import_beneficiaries", str(path), stdout=io.StringIO())
    assert "XXX" not in str(raised.value) and people[1]["nir"] not in str(raised.value)
    assert Beneficiary.objects.count() == 0


@pytest.mark.django_db
def test_rows_are_matched_by_the_pecgm_rules(tmp_path):
    """One matching for every import (exchanges.matching): namesakes are not picked at random,
    a usage name finds its person, a CAF number with the birth date too."""
    person, twin = namesakes()
    married = BeneficiaryFactory(nir="", usage_name="Lemaire", caf_number="")
    by_caf = BeneficiaryFactory(nir="", caf_number="7654321")

    def row(name, first_name, birth_date, caf_number=""):
        return {
            "nir": "",
            "birth_name": name,
            "usage_name": "",
            "first_name": first_name,
            "birth_date": birth_date,
            "caf_number": caf_number,
            "commune_code": "82121",
        }

    people = [
        row(person.birth_name, person.first_name, person.birth_date),
        row("Lemaire", married.first_name, married.birth_date),
        row("Autrement", "Nom", by_caf.birth_date, caf_number="7654321"),
    ]
    summary = import_beneficiaries(write(tmp_path, rows_for(people)))
    assert [(e.line, e.field) for e in summary.errors] == [(2, "nom_naissance")]
    assert "plusieurs bénéficiaires possibles" in summary.errors[0].message
    assert (summary.created, summary.updated) == (0, 2)
    assert Beneficiary.objects.count() == 4  # nobody created
    assert {p.commune_code for p in Beneficiary.objects.filter(pk__in=[person.pk, twin.pk])} != {"82121"}
    assert Beneficiary.objects.get(pk=married.pk).commune_code == "82121"
    assert Beneficiary.objects.get(pk=by_caf.pk).commune_code == "82121"
