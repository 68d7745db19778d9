"""Communes by name: the Département's file, the command that writes it, the pages that show it."""

from __future__ import annotations

import csv
import io
import json
import tarfile
from datetime import date

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from beneficiaries import communes
from tests.beneficiaries.factories import ImportRunFactory, followup, registered, snapshot
from tests.factories import TEST_PASSWORD, BeneficiaryFactory

# Shaped like the package's data/communes.json: today's communes, a commune nouvelle whose
# communes déléguées keep their codes (one of them the chef-lieu's), an old code merged without
# a name of its own, an old code of this Département merged into a neighbour's commune.
ENTRIES = [
    {"code": "82121", "nom": "Montauban", "departement": "82", "type": "commune-actuelle"},
    {"code": "82112", "nom": "Moissac", "departement": "82", "type": "commune-actuelle"},
    {
        "code": "82200",
        "nom": "Val-Nouveau",
        "departement": "82",
        "type": "commune-actuelle",
        "anciensCodes": ["82201", "82202", "82203"],
    },
    {
        "code": "82200",
        "nom": "Vieux-Bourg",
        "departement": "82",
        "type": "commune-deleguee",
        "chefLieu": "82200",
    },
    {
        "code": "82201",
        "nom": "Saint-Déléguée",
        "departement": "82",
        "type": "commune-deleguee",
        "chefLieu": "82200",
    },
    {
        "code": "82202",
        "nom": "Associée",
        "departement": "82",
        "type": "commune-associee",
        "chefLieu": "82200",
    },
    {
        "code": "31999",
        "nom": "Voisine-sur-Garonne",
        "departement": "31",
        "type": "commune-actuelle",
        "anciensCodes": ["82299", "31998"],
    },
    {"code": "31555", "nom": "Toulouse", "departement": "31", "type": "commune-actuelle"},
]


def make_tarball(path, entries=ENTRIES, name="@etalab/decoupage-administratif"):
    with tarfile.open(path, "w:gz") as archive:
        for member, content in (
            ("package/package.json", {"name": name, "version": "6.0.0"}),
            ("package/data/communes.json", entries),
        ):
            data = json.dumps(content).encode()
            info = tarfile.TarInfo(member)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_names_of_the_departement_today_and_those_that_changed():
    names = communes.names_for(ENTRIES, "82")
    assert names == {
        "82112": "Moissac",
        "82121": "Montauban",
        "82200": "Val-Nouveau",  # the commune nouvelle, not its chef-lieu's commune déléguée
        "82201": "Saint-Déléguée",
        "82202": "Associée",
        "82203": "Val-Nouveau",  # merged without a name of its own
        "82299": "Voisine-sur-Garonne",  # merged into the neighbour's commune
    }
    assert "31555" not in names and "31998" not in names


def test_the_command_checks_the_sha512_then_writes_the_departement_only(tmp_path, settings):
    tarball = make_tarball(tmp_path / "decoupage-administratif-6.0.0.tgz")
    output = tmp_path / "communes.json"
    # The 6.0.0 tarball's own integrity by default: this one is not it, nothing is written.
    with pytest.raises(CommandError, match="empreinte SHA-512 inattendue"):
        call_command("commune_names", str(tarball), output=str(output))
    assert not output.exists()
    out = io.StringIO()
    checked = communes.integrity(tarball.read_bytes())
    call_command("commune_names", str(tarball), integrity=checked, output=str(output), stdout=out)
    assert "7 communes du département 82 écrites" in out.getvalue()
    content = json.loads(output.read_text(encoding="utf-8"))
    assert content["departement"] == "82" and content["sha512"] == checked
    assert content["source"] == "@etalab/decoupage-administratif 6.0.0"
    assert content["communes"]["82201"] == "Saint-Déléguée"
    # Another package, or a Département it does not hold: refused.
    other = make_tarball(tmp_path / "other.tgz", name="left-pad")
    with pytest.raises(CommandError, match="n'est pas l'archive"):
        call_command("commune_names", str(other), integrity=communes.integrity(other.read_bytes()))
    with pytest.raises(CommandError, match="aucune commune du département 976"):
        call_command("commune_names", str(tarball), integrity=checked, departement="976", output=str(output))


def test_the_shipped_file_is_the_departement_s_from_the_6_0_0_tarball(settings):
    content = json.loads(communes.DATA_FILE.read_text(encoding="utf-8"))
    assert content["departement"] == settings.DEPARTEMENT == "82"
    assert content["sha512"] == communes.KNOWN_TARBALLS["6.0.0"]
    assert len(content["communes"]) == 195  # Tarn-et-Garonne, no commune nouvelle there
    assert all(code.startswith("82") for code in content["communes"])
    assert communes.commune_label("82121") == "Montauban (82121)"
    assert communes.commune_label("31555") == "31555"  # another Département's: the code
    assert communes.commune_label("") == ""


def test_another_departement_s_file_names_nothing(tmp_path):
    path = tmp_path / "communes.json"
    communes.write_data_file({"31555": "Toulouse"}, "31", "6.0.0", "sha512-x", path)
    assert communes._load("82", path) == {}
    assert communes._load("31", path) == {"31555": "Toulouse"}


@pytest.mark.django_db
def test_pages_show_the_communes_by_name(client, orientation_officer):
    client.login(username=orientation_officer.username, password=TEST_PASSWORD)
    person = BeneficiaryFactory(birth_name="Aubert", commune_code="82121")
    elsewhere = BeneficiaryFactory(birth_name="Barbier", commune_code="31555")
    december = ImportRunFactory(reference_date=date(2024, 12, 31))
    january = ImportRunFactory(reference_date=date(2025, 1, 31))
    snapshot(person, december, record_number=1, **registered(commune_code="82112"))
    followup(person, run=january, record_number=2, **registered(commune_code="82121"))

    listing = client.get(reverse("beneficiary_list")).content.decode()
    assert "<td>Montauban (82121)</td>" in listing and "<td>31555</td>" in listing
    # The filter suggests the names and takes one.
    assert '<option value="82121">Montauban</option>' in listing
    found = client.post(reverse("beneficiary_list"), {"commune": "montauban"}, follow=True)
    assert [row.birth_name for row in found.context["page"]] == ["Aubert"]
    wrong = client.post(reverse("beneficiary_list"), {"commune": "Atlantide"}, follow=True)
    assert "Commune inconnue" in wrong.content.decode()

    detail = client.get(reverse("beneficiary_detail", args=[person.pk]))
    assert "Montauban (82121)" in detail.content.decode()
    change = detail.context["timeline"][0].changes
    assert ("Moissac (82112)", "Montauban (82121)") in [(c.before, c.after) for c in change]
    assert ">31555</dd>" in client.get(reverse("beneficiary_detail", args=[elsewhere.pk])).content.decode()

    export = client.get(reverse("beneficiary_export"))
    rows = list(
        csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig")), delimiter=";")
    )
    assert {row["commune"]: row["nom de la commune"] for row in rows} == {"82121": "Montauban", "31555": ""}

    queue = client.get(reverse("orientation_queue")).content.decode()
    assert ">Montauban (82121)</option>" in queue and "<td>Montauban (82121)</td>" in queue
