"""Application logs never carry a NIR, a name or a credential.

Every log record emitted while importing files and browsing pages is
captured (DEBUG and up, all loggers) and searched for the NIRs, names and
password used. The masking filter of settings.LOGGING is a safety net on top,
tested on its own below.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse

from audit.logfilter import MASK, MaskPersonalDataFilter, mask_personal_data
from beneficiaries.demo import fake_people
from beneficiaries.models import Beneficiary
from exchanges.models import JobSeekerSnapshot
from exchanges.pecgm_reader import FileRejected, read_pecgm
from exchanges.synthetic import fake_pecgm_records, write_pecgm
from tests.factories import TEST_PASSWORD, UserFactory

CSV_HEADER = "nir,nom_naissance,nom_usage,prenom,date_naissance,num_caf,num_msa,code_insee_commune"


def csv_for(people) -> str:
    lines = [CSV_HEADER]
    for p in people:
        lines.append(
            ",".join(
                [p["nir"], p["birth_name"], p["usage_name"], p["first_name"], f"{p['birth_date']:%Y-%m-%d}"]
                + [p["caf_number"], "", p["commune_code"]]
            )
        )
    # A bad line too: error messages must name the line and field, not the person.
    lines.append(
        f"{people[0]['nir'][:-1]}X,{people[0]['birth_name']},,{people[0]['first_name']},32/13/1990,,,"
    )
    return "\n".join(lines) + "\n"


def secrets_in(text: str, people, extra=()) -> list[str]:
    found = []
    for p in people:
        for value in (p["nir"], p["nir"][:13], p["birth_name"], p["first_name"], p["usage_name"]):
            # Whole words only: a short first name may sit inside an ordinary word.
            if value and len(value) > 2 and re.search(rf"\b{re.escape(value)}\b", text, re.IGNORECASE):
                found.append(value)
    return found + [value for value in extra if value in text]


@pytest.mark.django_db
def test_imports_and_pages_log_no_personal_data(client, social_worker, caplog, tmp_path, settings):
    settings.DEBUG_PROPAGATE_EXCEPTIONS = False
    caplog.set_level(logging.DEBUG)
    people = fake_people(8, seed=4242)

    # 1. CSV import from the Département's tool.
    csv_path = tmp_path / "beneficiaires.csv"
    csv_path.write_text(csv_for(people))
    call_command("import_beneficiaries", str(csv_path), "--json", stdout=io.StringIO(), stderr=io.StringIO())
    assert Beneficiary.objects.count() == 8

    # 2. A PECGM file: 8 known people and 4 France Travail alone knows, read then imported.
    pecgm = tmp_path / "PECGM_082_20250131_M.xml"
    from datetime import date

    with pecgm.open("wb") as handle:
        write_pecgm(
            handle,
            fake_pecgm_records(people, 12, seed=5, reference_date=date(2025, 1, 31)),
            reference_date=date(2025, 1, 31),
            departement="82",
        )
    with contextlib.suppress(FileRejected):
        read_pecgm(pecgm).validate()
    call_command("import_pecgm", str(pecgm), stdout=io.StringIO(), stderr=io.StringIO())
    assert JobSeekerSnapshot.objects.filter(beneficiary__isnull=False).count() >= 8
    ft_people = [
        {
            "nir": r.get("nir") or "",
            "birth_name": r["birth_name"],
            "first_name": r["first_name"],
            "usage_name": "",
        }
        for r in JobSeekerSnapshot.objects.values("nir", "birth_name", "first_name")
    ]

    # 3. Pages: failed and successful logins, list, search by name and NIR, detail, NIR reveal, 404.
    client.post(reverse("login"), {"username": people[0]["nir"], "password": TEST_PASSWORD})
    client.post(reverse("login"), {"username": "ts", "password": "mauvais-" + TEST_PASSWORD})
    client.post(reverse("login"), {"username": "ts", "password": TEST_PASSWORD})
    client.get(reverse("beneficiary_list"), {"q": people[1]["birth_name"]}, follow=True)
    client.get(reverse("beneficiary_list"), {"q": people[2]["nir"]}, follow=True)
    for beneficiary in Beneficiary.objects.all():
        client.get(reverse("beneficiary_detail", args=[beneficiary.pk]))
        client.post(reverse("reveal_nir", args=[beneficiary.pk]))
    client.get(reverse("beneficiary_detail", args=[999999]))

    # 4. Every page of the application, as an administrator, about one of them.
    from tests.accounts.test_access_matrix import named_views, url_for

    client.force_login(UserFactory(username="adm-logs", role="admin"))
    target = Beneficiary.objects.get(nir_key=people[3]["nir"][:13])
    for name, pattern in named_views():
        if name != "logout":
            client.get(
                url_for(pattern, {"pk": target.pk, "cohort": "sortis-du-fichier"}),
                {"q": people[3]["birth_name"]},
                follow=True,
            )

    logged = "\n".join(
        record.getMessage() + (str(record.exc_info[1]) if record.exc_info else "")
        for record in caplog.records
    )
    assert caplog.records, "nothing was logged: the capture itself is broken"
    assert secrets_in(logged, people + ft_people, extra=[TEST_PASSWORD, "mauvais-"]) == []


def test_filter_masks_nirs_in_messages_and_arguments():
    record = logging.LogRecord(
        "x", logging.WARNING, __file__, 1, "match %s for 2 85 05 78 006 084 36", ("185057800608436",), None
    )
    MaskPersonalDataFilter().filter(record)
    assert record.getMessage() == f"match {MASK} for {MASK}"


def test_filter_masks_nirs_in_tracebacks():
    try:
        raise ValueError("bad NIR 2850578006084")
    except ValueError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    MaskPersonalDataFilter().filter(record)
    text = logging.Formatter().format(record)
    assert "2850578006084" not in text and MASK in text and "ValueError" in text


@pytest.mark.parametrize(
    "text", ["run 12 record 1234567 imported", "2025-01-31", "commune 82121", "id 123456789012345678"]
)
def test_filter_leaves_ordinary_numbers_alone(text):
    assert mask_personal_data(text) == text


def test_filter_is_installed_on_every_handler(settings):
    for name, handler in settings.LOGGING["handlers"].items():
        assert "mask_personal_data" in handler.get("filters", []), name


def test_the_celery_worker_keeps_the_masking_filter(tmp_path):
    """A worker sets its logging up at start (Worker.setup_logging -> app.log.setup); the
    filter must survive it, or the imports it runs could log a NIR in clear."""
    nir = "2800582200138"
    script = (
        "import logging, django\n"
        "from config.celery import app\n"
        "django.setup()\n"
        "app.log.setup(loglevel='INFO')\n"
        f"logging.getLogger('exchanges.pecgm_import').warning('record with NIR {nir}27')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=settings.BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    output = result.stdout + result.stderr
    assert "record with NIR" in output  # the line was written...
    assert nir not in output  # ...with the NIR masked
