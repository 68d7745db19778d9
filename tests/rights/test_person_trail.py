"""« Qui a consulté ce dossier » on the person's page, and names instead of ids on the audit page."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils.html import escape

import audit
from tests.factories import TEST_PASSWORD, BeneficiaryFactory
from tests.orientations.factories import DecisionFactory

pytestmark = pytest.mark.django_db


def test_admins_see_who_consulted_the_file_in_words(client, admin_user, social_worker, orientation_officer):
    person = BeneficiaryFactory()
    other = BeneficiaryFactory()
    decision = DecisionFactory(beneficiary=person)
    client.login(username=social_worker.username, password=TEST_PASSWORD)
    page = client.get(reverse("beneficiary_detail", args=[person.pk])).content.decode()
    assert "Qui a consulté ce dossier" not in page  # social workers do not read the trail
    audit.log(orientation_officer, audit.Action.RECORDED_ORIENTATION, decision)
    audit.log(social_worker, audit.Action.VIEWED_BENEFICIARY, other)  # someone else's file

    client.login(username=admin_user.username, password=TEST_PASSWORD)
    response = client.get(reverse("beneficiary_detail", args=[person.pk]))
    accesses = response.context["accesses"]
    lines = [f"{access.who} {access.what}" for access in accesses]
    # Newest first: the admin's own view, the officer's decision, the social worker's view.
    assert lines[0] == f"{admin_user.get_full_name()} (adm) a consulté le dossier"
    assert lines[1].startswith(f"{orientation_officer.get_full_name()} (co) a enregistré une décision")
    assert lines[2] == f"{social_worker.get_full_name()} (ts) a consulté le dossier"
    assert response.context["access_count"] == 3
    assert "Qui a consulté ce dossier" in response.content.decode()


def test_the_audit_page_names_people_and_says_when_they_are_erased(client, admin_user, social_worker):
    person = BeneficiaryFactory()
    gone = BeneficiaryFactory()
    audit.log(social_worker, audit.Action.VIEWED_BENEFICIARY, person)
    audit.log(social_worker, audit.Action.VIEWED_BENEFICIARY, gone)
    gone_id = gone.pk
    gone.delete()
    client.login(username=admin_user.username, password=TEST_PASSWORD)
    page = client.get(reverse("audit_search"), {"username": "ts"}).content.decode()
    assert escape(f"{person.display_name} (bénéficiaire n° {person.pk})") in page
    assert reverse("beneficiary_detail", args=[person.pk]) in page
    assert f"bénéficiaire n° {gone_id} (données effacées)" in page
