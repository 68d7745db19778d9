"""« Sortie positive », from the annexe's table of cessation motives (issue 21)."""

from __future__ import annotations

import pytest

from contract.layouts import CESSATION_MOTIVES
from pages.cohorts import is_positive_exit

POSITIVE = {"11", "12", "13", "14", "15", "16", "18", "19", "21", "22", "23", "24", "25", "31", "32", "34"}


def test_every_motive_of_the_table_is_judged_by_its_code():
    assert len(CESSATION_MOTIVES) == 36
    judged = {code for code, label in CESSATION_MOTIVES.items() if is_positive_exit(code, label)}
    assert judged == POSITIVE


@pytest.mark.parametrize(
    ("motive", "label"),
    [
        ("43", "fin de contrat de travail temporaire ou CDD (catégorie 5 uniquement)"),
        # A known code is not judged by its label, whatever the label says.
        ("43", "ENTREE EN FORMATION"),
        ("41", "fin de stage ou de mesure"),
        ("46", "changement site Pôle emploi"),
        ("", ""),
    ],
)
def test_not_positive(motive, label):
    assert not is_positive_exit(motive, label)


@pytest.mark.parametrize(
    ("motive", "label"),
    [
        (
            "17",
            "REPRISE D’EMPLOI (NOUVEAU DISPOSITIF)",
        ),  # a code France Travail added, typographic apostrophe
        ("", "entrée en stage par ses propres moyens"),
        ("60", "Entrée en formation"),
    ],
)
def test_a_code_outside_the_table_is_judged_by_its_label(motive, label):
    assert is_positive_exit(motive, label)


@pytest.mark.django_db
def test_a_registered_person_without_category_is_shown_as_exempt(client, orientation_officer):
    from django.urls import reverse

    from tests.beneficiaries.factories import followup, registered
    from tests.factories import TEST_PASSWORD, BeneficiaryFactory

    exempt = BeneficiaryFactory()
    followup(exempt, **registered(category="", category_label=""))
    client.login(username=orientation_officer.username, password=TEST_PASSWORD)
    page = client.get(reverse("beneficiary_detail", args=[exempt.pk])).content.decode()
    assert "dispense de recherche d&#x27;emploi (avant le 1er janvier 2012)" in page
