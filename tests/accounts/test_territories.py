"""Territories: a social worker sees only the beneficiaries living in theirs, everywhere."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from accounts.models import Territory, User
from accounts.territories import parse_commune_codes
from audit.actions import Action
from audit.models import AuditEntry
from beneficiaries.scoping import visible_beneficiaries
from tests.factories import TEST_PASSWORD, BeneficiaryFactory, TerritoryFactory, UserFactory


@pytest.fixture
def people(db):
    return {
        "inside": BeneficiaryFactory(commune_code="82121", birth_name="Dedans"),
        "outside": BeneficiaryFactory(commune_code="82033", birth_name="Dehors"),
        "nowhere": BeneficiaryFactory(commune_code="", birth_name="Nulle-Part"),
    }


@pytest.fixture
def restricted(db):
    user = UserFactory(username="ts-montauban", role="social_worker")
    user.territories.add(TerritoryFactory(name="Montauban", communes="82121"))
    return user


def test_commune_codes_are_normalised():
    assert parse_commune_codes("82121, 82033;82121\n2a004") == ["2A004", "82033", "82121"]
    with pytest.raises(ValidationError, match="8212"):
        parse_commune_codes("82121 8212")


@pytest.mark.django_db
def test_territory_stored_normalised():
    territory = Territory.objects.create(name="Nord", communes="82033,82121 82033")
    assert territory.communes == "82033 82121"
    assert territory.commune_codes == ["82033", "82121"]


@pytest.mark.django_db
def test_visibility_rules(people, restricted):
    def names(user):
        return set(visible_beneficiaries(user).values_list("birth_name", flat=True))

    everyone = {"Dedans", "Dehors", "Nulle-Part"}
    assert names(restricted) == {"Dedans"}
    assert names(UserFactory(username="ts-sans-territoire", role="social_worker")) == set()
    assert names(UserFactory(username="co2", role="orientation_officer")) == everyone
    assert names(UserFactory(username="adm2", role="admin")) == everyone
    officer = UserFactory(username="co-nord", role="orientation_officer")
    officer.territories.add(TerritoryFactory(name="Nord", communes="82033"))
    assert names(officer) == {"Dehors"}
    disabled = UserFactory(username="co-parti", role="orientation_officer", is_active=False)
    assert names(disabled) == set()


@pytest.mark.django_db
def test_list_and_detail_follow_the_territory(client, people, restricted):
    client.login(username="ts-montauban", password=TEST_PASSWORD)
    page = client.get(reverse("beneficiary_list")).content.decode()
    assert "DEDANS" in page and "DEHORS" not in page
    assert (
        "DEHORS" not in client.get(reverse("beneficiary_list"), {"q": "dehors"}, follow=True).content.decode()
    )
    assert client.get(reverse("beneficiary_detail", args=[people["inside"].pk])).status_code == 200

    response = client.get(reverse("beneficiary_detail", args=[people["outside"].pk]))
    assert response.status_code == 404
    denied = AuditEntry.objects.get(action=Action.ACCESS_DENIED)
    assert (denied.user, denied.object_id) == (restricted, str(people["outside"].pk))
    assert client.post(reverse("reveal_nir", args=[people["outside"].pk])).status_code == 404
    assert not AuditEntry.objects.filter(action=Action.REVEALED_NIR).exists()


def run_add_user(*args) -> str:
    out = io.StringIO()
    call_command("add_user", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_add_user_assigns_territories_by_name_or_commune_code():
    TerritoryFactory(name="Montauban", communes="82121 82033")
    out = run_add_user("lea", "--role", "social_worker", "--territory", "Montauban", "--territory", "82112")
    user = User.objects.get(username="lea")
    assert sorted(t.name for t in user.territories.all()) == ["82112", "Montauban"]
    assert Territory.objects.get(name="82112").commune_codes == ["82112"]
    assert "Territoires : 82112, Montauban." in out

    run_add_user("lea", "--role", "social_worker", "--territory", "82112")
    assert [t.name for t in user.territories.all()] == ["82112"]
    run_add_user("lea", "--role", "social_worker")  # no --territory: unchanged
    assert [t.name for t in user.territories.all()] == ["82112"]


@pytest.mark.django_db
def test_add_user_refuses_an_unknown_territory():
    with pytest.raises(CommandError, match="Territoire inconnu"):
        run_add_user("lea", "--role", "social_worker", "--territory", "Atlantide")
    assert not User.objects.filter(username="lea").exists()


@pytest.mark.django_db
def test_admin_assigns_territories_in_the_admin_site(client, admin_user):
    territory = TerritoryFactory(name="Sud", communes="82079")
    worker = UserFactory(username="ts-sud", role="social_worker")
    client.login(username=admin_user.username, password=TEST_PASSWORD)
    page = client.get(reverse("admin:accounts_user_change", args=[worker.pk]))
    assert page.status_code == 200 and 'name="territories"' in page.content.decode()
    assert client.get(reverse("admin:accounts_territory_change", args=[territory.pk])).status_code == 200


@pytest.mark.django_db
def test_the_territory_filter_follows_territories_added_renamed_and_deleted(client, orientation_officer):
    client.force_login(orientation_officer)

    def offered():
        field = client.get(reverse("beneficiary_list")).context["form"].fields["territoire"]
        return [label for value, label in field.choices if value]

    montauban = TerritoryFactory(name="Montauban", communes="82121")
    assert offered() == ["Montauban"]
    TerritoryFactory(name="Castelsarrasin", communes="82033")
    assert offered() == ["Castelsarrasin", "Montauban"]
    montauban.name = "Grand Montauban"
    montauban.save()
    assert offered() == ["Castelsarrasin", "Grand Montauban"]
    montauban.delete()
    assert offered() == ["Castelsarrasin"]


@pytest.mark.django_db
def test_add_user_gives_an_admin_no_territory():
    TerritoryFactory(name="Montauban", communes="82121")
    with pytest.raises(CommandError, match="Un administrateur voit tout le Département"):
        run_add_user("adm", "--role", "admin", "--territory", "Montauban")
    assert not User.objects.filter(username="adm").exists()

    run_add_user("lea", "--role", "social_worker", "--territory", "Montauban")
    out = run_add_user("lea", "--role", "admin")  # promoted: the territories go
    assert "territoires sont retirés" in out
    assert not User.objects.get(username="lea").territories.exists()


@pytest.mark.django_db
def test_the_admin_site_refuses_a_territory_to_an_admin_and_says_why(client, admin_user):
    from tests.accounts.test_admin_site import _change

    territory = TerritoryFactory(name="Sud", communes="82079")
    worker = UserFactory(username="ts-sud", role="social_worker")
    client.login(username=admin_user.username, password=TEST_PASSWORD)

    page = client.get(reverse("admin:accounts_user_change", args=[admin_user.pk])).content.decode()
    assert "Ils ne limitent pas les administrateurs" in page
    # Oneself, another admin, or a social worker made admin with their territories: refused.
    for user, role in (
        (admin_user, "admin"),
        (UserFactory(username="adm2", role="admin"), "admin"),
        (worker, "admin"),
    ):
        refused = _change(client, user, role=role, territories=[territory.pk])
        assert refused.status_code == 200 and "les territoires ne le limitent pas" in refused.content.decode()
        assert not user.territories.exists()
    assert _change(client, worker, territories=[territory.pk]).status_code == 302
    assert list(worker.territories.all()) == [territory]

    added = client.post(
        reverse("admin:accounts_user_add"),
        {
            "username": "adm3",
            "role": "admin",
            "password1": "une phrase de passe assez longue",
            "password2": "une phrase de passe assez longue",
            "usable_password": "true",
            "territories": [territory.pk],
        },
    )
    assert "les territoires ne le limitent pas" in added.content.decode()
    assert not User.objects.filter(username="adm3").exists()
