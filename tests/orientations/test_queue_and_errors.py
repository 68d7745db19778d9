"""The orientation queue's ergonomics and the error summary of every form (issue 22)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from tests.factories import TEST_PASSWORD, BeneficiaryFactory
from tests.orientations.factories import CorrespondentFactory, ReferentBodyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def officer_client(client, orientation_officer):
    client.login(username=orientation_officer.username, password=TEST_PASSWORD)
    return client


# --- Checkboxes at 3:1 ------------------------------------------------------------------------


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(one: str, other: str) -> float:
    lighter, darker = sorted((_luminance(one), _luminance(other)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_checkboxes_keep_3_to_1_against_every_row_background():
    css = (Path(settings.BASE_DIR) / "static" / "css" / "app.css").read_text(encoding="utf-8")
    rule = re.search(r"\.form-check-input\s*\{([^}]*)\}", css)
    assert rule, "static/css/app.css sets the checkboxes' border"
    border = re.search(r"border-color:\s*(#[0-9a-fA-F]{6})", rule.group(1)).group(1)
    # White, Bootstrap's striped row (5 % black) and hovered row (7.5 % black).
    for background in ("#ffffff", "#f2f2f2", "#ececec"):
        assert contrast(border, background) >= 3, background
    assert contrast("#dee2e6", "#ffffff") < 3  # Bootstrap's own border, the one overridden


# --- The queue ---------------------------------------------------------------------------------


def test_the_queue_offers_tick_the_page_and_a_skip_link_to_the_decision(officer_client):
    people = [BeneficiaryFactory(commune_code="82121") for _ in range(3)]
    url = reverse("orientation_queue")
    page = officer_client.get(url).content.decode()
    assert '<a href="#decision-groupee"' in page and 'id="decision-groupee" tabindex="-1"' in page
    assert page.index('href="#decision-groupee"') < page.index('id="choix-personnes"')
    assert "Tout cocher sur la page" in page and "cocher=page" in page
    assert re.findall(r'id="b\d+" checked>', page) == []
    # Without JavaScript the link ticks every box of the page.
    ticked = officer_client.get(url, {"cocher": "page"}).content.decode()
    for person in people:
        assert f'value="{person.pk}" id="b{person.pk}" checked>' in ticked
    # The button that does it in place is there for JavaScript to show (static/js/check-page.js).
    assert 'data-check-page="bulk-decision"' in page and "js/check-page.js" in page


def test_correspondents_follow_the_chosen_referent_body(officer_client, client, social_worker):
    ours = CorrespondentFactory(last_name="Durand")
    theirs = CorrespondentFactory(last_name="Petit")
    url = reverse("orientation_correspondents")
    options = officer_client.get(url, {"referent_body": ours.referent_body_id}).content.decode()
    assert "DURAND" in options and "PETIT" not in options
    assert options.startswith('<option value="">')
    every = officer_client.get(url).content.decode()
    assert "DURAND" in every and "PETIT" in every
    # The form reloaded by the server shows the chosen body's only, and asks htmx to follow.
    person = BeneficiaryFactory()
    refused = officer_client.post(
        reverse("orientation_record", args=[person.pk]),
        {"nature": "", "decision_date": "2025-01-15", "referent_body": theirs.referent_body_id},
    ).content.decode()
    select = re.search(r'<select name="correspondent".*?</select>', refused, re.S).group(0)
    assert "PETIT" in select and "DURAND" not in select
    assert f'hx-get="{url}"' in refused and 'hx-target="#id_correspondent"' in refused
    # Another body's correspondent is still refused with the message that says why.
    mismatch = officer_client.post(
        reverse("orientation_record", args=[person.pk]),
        {
            "nature": "05",
            "decision_date": "2025-01-15",
            "referent_body": theirs.referent_body_id,
            "correspondent": ours.pk,
        },
    ).content.decode()
    assert "Ce correspondant ne dépend pas de l&#x27;organisme choisi." in mismatch
    client.login(username=social_worker.username, password=TEST_PASSWORD)
    assert client.get(url).status_code == 403


def test_the_bulk_confirmation_names_the_people(officer_client):
    BeneficiaryFactory(birth_name="Aubert", first_name="Jeanne", usage_name="", commune_code="82121")
    BeneficiaryFactory(birth_name="Barbier", first_name="Paul", usage_name="", commune_code="82121")
    body = ReferentBodyFactory()
    response = officer_client.post(
        reverse("orientation_bulk_record"),
        {"scope": "all", "nature": "05", "decision_date": "2025-01-15", "referent_body": body.pk},
    )
    content = response.content.decode()
    assert "Les 2 personnes concernées" in content
    names = re.search(r'<ol class="bulk-names".*?</ol>', content, re.S).group(0)
    assert "AUBERT JEANNE" in names.upper() and "BARBIER PAUL" in names.upper()


def test_the_bulk_referent_confirmation_names_the_people(client, orientation_officer, social_worker):
    client.login(username=orientation_officer.username, password=TEST_PASSWORD)
    BeneficiaryFactory(birth_name="Aubert", usage_name="")
    response = client.post(
        reverse("caseload_bulk_assign") + "?liste=",
        {"scope": "all", "referent": social_worker.pk, "start_date": "2025-01-15"},
    )
    content = response.content.decode()
    assert "La personne concernée" in content, content[:2000]
    assert re.search(r'<ol class="bulk-names"[^>]*>.*(Aubert|AUBERT).*</ol>', content, re.S)


# --- The error summary -------------------------------------------------------------------------


def summary(content: str) -> str:
    found = re.search(r'<div class="alert alert-danger error-summary".*?</div>', content, re.S)
    assert found, "no error summary"
    return found.group(0)


def test_a_refused_decision_form_starts_with_a_summary_linking_to_each_field(officer_client):
    person = BeneficiaryFactory()
    response = officer_client.post(
        reverse("orientation_record", args=[person.pk]),
        {"nature": "", "decision_date": "", "referent_body": "", "new_email": "pas-une-adresse"},
    )
    content = response.content.decode()
    box = summary(content)
    assert "Le formulaire contient 4 erreurs" in box
    for field in ("nature", "decision_date", "referent_body", "new_email"):
        assert f'<a href="#id_{field}">' in box and f'id="id_{field}"' in content
    assert 'tabindex="-1" autofocus' in box
    # It comes before the form, and nothing else asks for the focus.
    assert content.index("error-summary") < content.index('id="id_nature"')
    assert content.count("autofocus") == 1
    assert "js/error-summary.js" in content


def test_one_error_is_said_in_the_singular_and_the_queue_s_boxes_have_their_link(officer_client):
    BeneficiaryFactory()
    body = ReferentBodyFactory()
    response = officer_client.post(
        reverse("orientation_bulk_record"),
        {"scope": "selected", "nature": "05", "decision_date": "2025-01-15", "referent_body": body.pk},
    )
    box = summary(response.content.decode())
    assert "Le formulaire contient 1 erreur<" in box
    assert '<a href="#choix-personnes">Personnes : Cochez au moins une personne.</a>' in box


def test_login_and_second_factor_errors_take_the_focus_from_the_field(client, orientation_officer):
    response = client.post(reverse("login"), {"username": orientation_officer.username, "password": "faux"})
    content = response.content.decode()
    box = summary(content)
    assert '<a href="#id_username">Identifiant ou mot de passe incorrect.</a>' in box
    assert content.count("autofocus") == 1  # the summary's, not the field's
    first = client.get(reverse("login")).content.decode()
    assert 'id="error-summary"' not in first and 'required autofocus value=""' in first


def test_every_form_template_shows_the_one_summary():
    """Each page with a form that can be refused includes templates/includes/error_summary.html."""
    templates = Path(settings.BASE_DIR) / "templates"
    expected = [
        "orientations/record.html",
        "orientations/correct.html",
        "orientations/queue.html",
        "orientations/referent_body_form.html",
        "orientations/correspondent_form.html",
        "caseloads/handle.html",
        "caseloads/note_edit.html",
        "caseloads/referent.html",
        "caseloads/csv_upload.html",
        "caseloads/bulk_confirm.html",
        "rights/rectify.html",
        "rights/home.html",
        "audit/search.html",
        "registration/login.html",
        "accounts/otp_verify.html",
        "accounts/otp_setup.html",
    ]
    missing = [
        name for name in expected if "includes/error_summary.html" not in (templates / name).read_text()
    ]
    assert missing == []
    # No page writes its own list of a form's errors beside it.
    own = [
        str(path.relative_to(templates))
        for path in templates.rglob("*.html")
        if "non_field_errors" in path.read_text(encoding="utf-8")
    ]
    assert own == []
