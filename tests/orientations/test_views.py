import re
from datetime import date, timedelta

import pytest
from django.urls import reverse

from audit.models import AuditEntry
from orientations.decisions import DecisionData, record_decision
from orientations.models import Correspondent, OrientationChange, OrientationDecision, ReferentBody
from tests.factories import TEST_PASSWORD, BeneficiaryFactory
from tests.orientations.factories import CorrespondentFactory, DecisionFactory, ReferentBodyFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def officer_client(client, orientation_officer):
    client.login(username=orientation_officer.username, password=TEST_PASSWORD)
    return client


@pytest.fixture
def admin_client_(client, admin_user):
    client.login(username=admin_user.username, password=TEST_PASSWORD)
    return client


def decision_post(body, correspondent=None, **extra):
    values = {
        "nature": "05",
        "decision_date": "2025-01-15",
        "referent_body": body.pk,
        "correspondent": correspondent.pk if correspondent else "",
    }
    values.update(extra)
    return values


def test_beneficiary_page_shows_the_orientation_panel(officer_client):
    decision = DecisionFactory(nature="05")
    response = officer_client.get(reverse("beneficiary_detail", args=[decision.beneficiary.pk]))
    assert response.status_code == 200
    assert "05 — Orienté vers PE (offre de service de droit commun)" in response.content.decode()
    assert reverse("orientation_record", args=[decision.beneficiary.pk]) in response.content.decode()


def test_social_worker_sees_the_panel_without_the_record_button(client, social_worker):
    client.login(username=social_worker.username, password=TEST_PASSWORD)
    person = BeneficiaryFactory()
    response = client.get(reverse("beneficiary_detail", args=[person.pk]))
    assert "Aucune orientation en cours." in response.content.decode()
    assert reverse("orientation_record", args=[person.pk]) not in response.content.decode()


def test_record_a_decision(officer_client, orientation_officer):
    person = BeneficiaryFactory()
    correspondent = CorrespondentFactory()
    response = officer_client.post(
        reverse("orientation_record", args=[person.pk]),
        decision_post(correspondent.referent_body, correspondent),
    )
    assert response.status_code == 302
    decision = OrientationDecision.objects.get(beneficiary=person)
    assert (decision.nature, decision.decision_date, decision.correspondent) == (
        "05",
        date(2025, 1, 15),
        correspondent,
    )
    assert decision.recorded_by == orientation_officer
    entry = AuditEntry.objects.get(action="recorded_orientation")
    assert (entry.user, entry.object_id) == (orientation_officer, str(decision.pk))
    history = officer_client.get(response["Location"])
    assert "La décision d&#x27;orientation est enregistrée." in history.content.decode()


def test_record_with_a_new_correspondent_typed_in(officer_client):
    person = BeneficiaryFactory()
    body = ReferentBodyFactory()
    response = officer_client.post(
        reverse("orientation_record", args=[person.pk]),
        decision_post(
            body,
            new_last_name="Lefèvre",
            new_first_name="Anaïs",
            new_phone="05.63.12.34.56",
            new_email="a.lefevre@example.fr",
            new_service="Insertion",
        ),
    )
    assert response.status_code == 302
    correspondent = Correspondent.objects.get(last_name="Lefèvre")
    assert correspondent.phone == "0563123456"
    assert correspondent.referent_body == body
    assert OrientationDecision.objects.get(beneficiary=person).correspondent == correspondent


def test_record_form_errors_are_french_and_next_to_the_field(officer_client):
    person = BeneficiaryFactory()
    body = ReferentBodyFactory()
    response = officer_client.post(
        reverse("orientation_record", args=[person.pk]),
        {
            "nature": "",
            "decision_date": "",
            "referent_body": body.pk,
            "new_last_name": "Martin",
            "new_phone": "05 63 00",
            "new_email": "pas-une-adresse",
        },
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert 'id="id_nature_error"><div>Ce champ est obligatoire.' in content
    assert 'id="id_decision_date_error"><div>Ce champ est obligatoire.' in content
    assert 'id="id_new_phone_error"><div>Le numéro de téléphone doit compter 10 chiffres' in content
    assert 'id="id_new_email_error"><div>Saisissez une adresse électronique valide.' in content
    assert (
        'id="id_new_first_name_error"><div>Ce champ est obligatoire pour un nouveau correspondant.' in content
    )
    # Each field points screen readers at its messages: every id it names is on the page.
    described = {ref for refs in re.findall(r'aria-describedby="([^"]+)"', content) for ref in refs.split()}
    assert "id_nature_error" in described
    assert all(f'id="{ref}"' in content for ref in described), described
    assert OrientationDecision.objects.count() == 0


def test_record_refuses_a_correspondent_of_another_body(officer_client):
    person = BeneficiaryFactory()
    correspondent = CorrespondentFactory()
    response = officer_client.post(
        reverse("orientation_record", args=[person.pk]), decision_post(ReferentBodyFactory(), correspondent)
    )
    assert "Ce correspondant ne dépend pas de l&#x27;organisme choisi." in response.content.decode()
    assert OrientationDecision.objects.count() == 0


def test_record_refuses_a_date_before_the_current_decision(officer_client):
    decision = DecisionFactory(decision_date=date(2025, 1, 15))
    response = officer_client.post(
        reverse("orientation_record", args=[decision.beneficiary.pk]),
        decision_post(decision.referent_body, decision_date="2025-01-10"),
    )
    assert response.status_code == 200
    assert "une nouvelle décision doit être postérieure" in response.content.decode()
    assert OrientationDecision.objects.count() == 1


def test_inactive_bodies_are_not_offered(officer_client):
    ReferentBodyFactory(name="Organisme fermé", is_active=False)
    ReferentBodyFactory(name="Organisme ouvert")
    response = officer_client.get(reverse("orientation_record", args=[BeneficiaryFactory().pk]))
    assert "Organisme ouvert" in response.content.decode()
    assert "Organisme fermé" not in response.content.decode()


def test_history_and_correction_pages(officer_client, orientation_officer):
    person = BeneficiaryFactory()
    body = ReferentBodyFactory()
    first = record_decision(person, DecisionData("01", date(2024, 1, 10), body))
    second = record_decision(person, DecisionData("05", date(2024, 6, 1), body))
    response = officer_client.get(reverse("orientation_history", args=[person.pk]))
    content = response.content.decode()
    viewed = AuditEntry.objects.get(action="viewed_beneficiary")
    assert (viewed.object_id, viewed.extra) == (str(person.pk), {"page": "orientation_history"})
    assert "depuis le 10/01/2024" in content
    assert "jusqu'au 01/06/2024 (exclu)" in content
    assert "en cours" in content

    response = officer_client.post(
        reverse("orientation_correct", args=[second.pk]),
        {**decision_post(body), "nature": "06", "decision_date": "2024-06-01", "reason": "erreur de nature"},
    )
    assert response.status_code == 302
    change = OrientationChange.objects.get(decision=second)
    assert (change.field, change.changed_by) == ("nature", orientation_officer)
    assert AuditEntry.objects.get(action="changed_orientation").extra == {"fields": "nature"}
    content = officer_client.get(reverse("orientation_history", args=[person.pk])).content.decode()
    nature = "05 — Orienté vers PE (offre de service de droit commun)"
    assert f"nature de l&#x27;accompagnement « {nature} »" in content
    assert "erreur de nature" in content
    first.refresh_from_db()
    assert first.ended_on == date(2024, 6, 1)


def test_correction_needs_a_reason(officer_client):
    decision = DecisionFactory()
    response = officer_client.post(
        reverse("orientation_correct", args=[decision.pk]), decision_post(decision.referent_body, nature="02")
    )
    assert 'id="id_reason_error"><div>Ce champ est obligatoire.' in response.content.decode()
    decision.refresh_from_db()
    assert decision.nature == "01"


def test_social_worker_can_read_history_but_not_record(client, social_worker):
    client.login(username=social_worker.username, password=TEST_PASSWORD)
    decision = DecisionFactory()
    assert client.get(reverse("orientation_history", args=[decision.beneficiary.pk])).status_code == 200
    assert client.get(reverse("orientation_record", args=[decision.beneficiary.pk])).status_code == 403
    assert client.get(reverse("orientation_correct", args=[decision.pk])).status_code == 403


# --- Queue and bulk action ------------------------------------------------------


def test_queue_lists_people_without_orientation_newest_entrants_first(officer_client):
    oriented = BeneficiaryFactory(birth_name="Oriente", rsa_start_date=date(2025, 1, 1))
    DecisionFactory(beneficiary=oriented)
    old = BeneficiaryFactory(birth_name="Ancien", rsa_start_date=date(2020, 1, 1))
    new = BeneficiaryFactory(birth_name="Recent", rsa_start_date=date(2025, 2, 1))
    undated = BeneficiaryFactory(birth_name="Sansdate", rsa_start_date=None)
    response = officer_client.get(reverse("orientation_queue"))
    people = list(response.context["page"])
    assert people == [new, old, undated]


def test_queue_includes_people_whose_only_decisions_ended(officer_client):
    from orientations.queue import to_orient

    person = BeneficiaryFactory()
    DecisionFactory(beneficiary=person)
    assert person not in to_orient()
    OrientationDecision.objects.filter(beneficiary=person).update(ended_on=date(2025, 2, 1))
    assert person in to_orient()


def test_queue_filters_by_commune(officer_client):
    here = BeneficiaryFactory(commune_code="82121")
    BeneficiaryFactory(commune_code="82033")
    response = officer_client.get(reverse("orientation_queue"), {"commune": ["82121"]})
    assert list(response.context["page"]) == [here]
    assert response.context["filter_query"] == "commune=82121"


def test_queue_is_paginated(officer_client):
    BeneficiaryFactory.create_batch(51)
    response = officer_client.get(reverse("orientation_queue"))
    assert len(response.context["page"]) == 50
    assert "Page 1 sur 2" in response.content.decode()


def test_bulk_action_records_for_each_selected_person_and_reports(officer_client):
    body = ReferentBodyFactory()
    first, second = BeneficiaryFactory(), BeneficiaryFactory()
    already = BeneficiaryFactory()
    DecisionFactory(beneficiary=already, decision_date=date(2025, 3, 1))
    response = officer_client.post(
        reverse("orientation_bulk_record"),
        {
            **decision_post(body, decision_date="2025-02-01"),
            "beneficiaries": [first.pk, second.pk, already.pk],
        },
        follow=True,
    )
    assert response.redirect_chain == [(reverse("orientation_bulk_result"), 302)]
    content = response.content.decode()
    assert "2 décisions enregistrées, 1 refusée." in content
    assert "une nouvelle décision doit être postérieure" in content
    assert OrientationDecision.objects.filter(beneficiary__in=[first, second], nature="05").count() == 2
    assert OrientationDecision.objects.filter(beneficiary=already).count() == 1


def test_bulk_action_without_selection_or_with_bad_fields_records_nothing(officer_client):
    BeneficiaryFactory()
    response = officer_client.post(reverse("orientation_bulk_record"), {"nature": "05"})
    assert response.status_code == 400
    content = response.content.decode()
    assert "Cochez au moins une personne." in content
    assert 'id="id_referent_body_error"><div>Ce champ est obligatoire.' in content
    assert OrientationDecision.objects.count() == 0


def test_a_refused_bulk_action_keeps_the_ticks_and_links_back_to_the_queue(officer_client):
    people = [BeneficiaryFactory(commune_code="82121") for _ in range(3)]
    ticked = [people[0].pk, people[2].pk]
    response = officer_client.post(
        reverse("orientation_bulk_record") + "?commune=82121", {"beneficiaries": ticked, "nature": ""}
    )
    assert response.status_code == 400
    content = response.content.decode()
    boxes = dict(re.findall(r'value="(\d+)" id="b\d+"( checked)?>', content))
    assert boxes == {str(p.pk): " checked" if p.pk in ticked else "" for p in people}
    # The page's URL is the bulk action's: its filter form must not GET it (405).
    queue = reverse("orientation_queue")
    assert f'<form method="get" action="{queue}"' in content
    assert OrientationDecision.objects.count() == 0


def test_a_refused_bulk_action_on_page_two_shows_page_two_again(officer_client):
    from orientations.views import PAGE_SIZE

    BeneficiaryFactory.create_batch(PAGE_SIZE + 2, commune_code="82121")
    page_two = officer_client.get(reverse("orientation_queue"), {"page": 2})
    action = re.search(r'<form method="post" action="([^"]+)" novalidate', page_two.content.decode()).group(1)
    assert "page=2" in action
    ticked = [person.pk for person in page_two.context["page"]]
    response = officer_client.post(action.replace("&amp;", "&"), {"beneficiaries": ticked, "nature": ""})
    assert response.status_code == 400 and response.context["page"].number == 2
    boxes = re.findall(r'name="beneficiaries" value="(\d+)" id="b\d+" checked>', response.content.decode())
    assert sorted(map(int, boxes)) == sorted(ticked)


def test_bulk_action_is_post_only(officer_client):
    assert officer_client.get(reverse("orientation_bulk_record")).status_code == 405


# --- Reference data pages ------------------------------------------------------------


def test_reference_pages_are_for_admins_only(officer_client):
    assert officer_client.get(reverse("referent_bodies")).status_code == 403


def test_admin_creates_edits_and_deactivates_a_body(admin_client_):
    response = admin_client_.post(
        reverse("referent_body_create"),
        {"name": "CCAS de Moissac", "address": "1 place Durand 82200 Moissac"},
    )
    assert response.status_code == 302
    body = ReferentBody.objects.get(name="CCAS de Moissac")
    response = admin_client_.post(
        reverse("referent_body_edit", args=[body.pk]), {"name": "CCAS Moissac", "address": ""}
    )
    assert response.status_code == 302
    admin_client_.post(reverse("referent_body_toggle", args=[body.pk]))
    body.refresh_from_db()
    assert (body.name, body.is_active) == ("CCAS Moissac", False)
    # Each change of the reference data is in the audit trail.
    changes = AuditEntry.objects.filter(action="changed_reference_data", object_id=str(body.pk))
    assert [entry.extra["change"] for entry in changes.order_by("id")] == ["created", "edited", "deactivated"]
    content = admin_client_.get(reverse("referent_bodies")).content.decode()
    assert "CCAS Moissac" in content
    assert "désactivé" in content


def test_the_same_body_twice_is_refused(admin_client_):
    data = {"name": "CCAS de Moissac", "address": "1 place Durand 82200 Moissac"}
    assert admin_client_.post(reverse("referent_body_create"), data).status_code == 302
    again = admin_client_.post(
        reverse("referent_body_create"), {"name": "ccas de moissac ", "address": data["address"]}
    )
    assert "Cet organisme existe déjà à cette adresse." in again.content.decode()
    assert ReferentBody.objects.filter(name__iexact="CCAS de Moissac").count() == 1
    # Editing the body itself is not a duplicate of itself; the same name elsewhere is another body.
    body = ReferentBody.objects.get()
    assert admin_client_.post(reverse("referent_body_edit", args=[body.pk]), data).status_code == 302
    other = {"name": "CCAS de Moissac", "address": "2 rue Annexe 82200 Moissac"}
    assert admin_client_.post(reverse("referent_body_create"), other).status_code == 302


def test_body_over_90_characters_is_refused_in_french(admin_client_):
    response = admin_client_.post(reverse("referent_body_create"), {"name": "N" * 60, "address": "A" * 40})
    assert response.status_code == 200
    assert "Le nom et l&#x27;adresse ensemble dépassent 90 caractères (101)" in response.content.decode()
    assert not ReferentBody.objects.exists()


def test_admin_manages_correspondents(admin_client_):
    body = ReferentBodyFactory()
    url = reverse("correspondent_create", args=[body.pk])
    response = admin_client_.post(
        url, {"last_name": "Roux", "first_name": "Léa", "phone": "0563", "email": "x", "service": ""}
    )
    content = response.content.decode()
    assert "Le numéro de téléphone doit compter 10 chiffres" in content
    assert "Saisissez une adresse électronique valide." in content
    response = admin_client_.post(
        url,
        {
            "last_name": "Roux",
            "first_name": "Léa",
            "phone": "05 63 11 22 33",
            "email": "lea@example.fr",
            "service": "",
        },
    )
    assert response.status_code == 302
    correspondent = Correspondent.objects.get(last_name="Roux")
    assert correspondent.phone == "0563112233"
    admin_client_.post(reverse("correspondent_toggle", args=[correspondent.pk]))
    correspondent.refresh_from_db()
    assert not correspondent.is_active
    changes = AuditEntry.objects.filter(
        action="changed_reference_data",
        object_type="orientations.correspondent",
        object_id=str(correspondent.pk),
    )
    assert [entry.extra["change"] for entry in changes.order_by("id")] == ["created", "deactivated"]
    response = admin_client_.post(
        reverse("correspondent_edit", args=[correspondent.pk]),
        {"last_name": "Roux2", "first_name": "Léa", "phone": "", "email": "", "service": ""},
    )
    assert "Seuls les lettres, espaces, tirets et apostrophes sont acceptés." in response.content.decode()


def test_deactivation_is_post_only(admin_client_):
    body = ReferentBodyFactory()
    assert admin_client_.get(reverse("referent_body_toggle", args=[body.pk])).status_code == 405
    body.refresh_from_db()
    assert body.is_active


def test_unused_date_guard(officer_client):
    """A decision dated in the future is refused next to the date."""
    person = BeneficiaryFactory()
    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    response = officer_client.post(
        reverse("orientation_record", args=[person.pk]),
        decision_post(ReferentBodyFactory(), decision_date=tomorrow),
    )
    assert (
        'id="id_decision_date_error"><div>La date de décision ne peut pas être dans le futur.'
        in response.content.decode()
    )


def test_queue_filters_by_territory(officer_client):
    from accounts.models import Territory

    territory = Territory.objects.create(name="Montauban", communes="82121 82112")
    inside = BeneficiaryFactory(commune_code="82112")
    BeneficiaryFactory(commune_code="82033")
    response = officer_client.get(reverse("orientation_queue"), {"territoire": territory.pk})
    assert list(response.context["page"]) == [inside]
    assert f'<option value="{territory.pk}" selected>Montauban</option>' in response.content.decode()


def test_decision_pages_are_audited_and_stay_within_the_users_territories(client, orientation_officer):
    from accounts.models import Territory

    orientation_officer.territories.add(Territory.objects.create(name="Moissac", communes="82112"))
    client.login(username=orientation_officer.username, password=TEST_PASSWORD)
    mine = DecisionFactory(beneficiary=BeneficiaryFactory(commune_code="82112"))
    other = DecisionFactory(beneficiary=BeneficiaryFactory(commune_code="82033"))

    assert client.get(reverse("orientation_correct", args=[mine.pk])).status_code == 200
    assert client.get(reverse("orientation_record", args=[mine.beneficiary_id])).status_code == 200
    pages = AuditEntry.objects.filter(action="viewed_beneficiary", object_id=str(mine.beneficiary_id))
    assert sorted(entry.extra["page"] for entry in pages) == ["orientation_correct", "orientation_record"]

    assert client.get(reverse("orientation_correct", args=[other.pk])).status_code == 404
    denied = AuditEntry.objects.get(action="access_denied")
    assert denied.object_id == str(other.beneficiary_id)


def test_queue_and_bulk_stay_within_the_users_territories(client, orientation_officer):
    from accounts.models import Territory

    orientation_officer.territories.add(Territory.objects.create(name="Moissac", communes="82112"))
    client.login(username=orientation_officer.username, password=TEST_PASSWORD)
    mine = BeneficiaryFactory(commune_code="82112")
    other = BeneficiaryFactory(commune_code="82033")
    assert list(client.get(reverse("orientation_queue")).context["page"]) == [mine]
    response = client.post(
        reverse("orientation_bulk_record"),
        {**decision_post(ReferentBodyFactory()), "beneficiaries": [mine.pk, other.pk]},
    )
    assert response.status_code == 400
    assert not OrientationDecision.objects.exists()


def test_bulk_errors_keep_the_filters_and_a_bad_territory_is_ignored(officer_client):
    here = BeneficiaryFactory(commune_code="82121")
    BeneficiaryFactory(commune_code="82033")
    response = officer_client.post(reverse("orientation_bulk_record") + "?commune=82121", {"nature": "05"})
    assert response.status_code == 400
    assert list(response.context["page"]) == [here]
    assert officer_client.get(reverse("orientation_queue"), {"territoire": "x"}).status_code == 200


# --- The whole filtered queue in one action ------------------------------------------


def test_the_queue_offers_the_whole_filtered_list_with_its_count(officer_client):
    BeneficiaryFactory.create_batch(51, commune_code="82121")
    content = officer_client.get(reverse("orientation_queue"), {"commune": "82121"}).content.decode()
    assert 'name="scope" id="scope-all" value="all"' in content
    assert "Toutes les personnes de la liste filtrée (51)" in content


def test_the_whole_filtered_queue_asks_for_a_confirmation_with_the_count_first(officer_client):
    body = ReferentBodyFactory()
    BeneficiaryFactory.create_batch(3, commune_code="82121")
    BeneficiaryFactory(commune_code="82033")
    url = reverse("orientation_bulk_record") + "?commune=82121"
    response = officer_client.post(url, {**decision_post(body), "scope": "all"})
    assert response.status_code == 200
    content = response.content.decode()
    assert "sera enregistrée pour les 3 personnes" in content
    assert "Confirmer pour 3 personnes" in content
    assert '<input type="hidden" name="confirmed_count" value="3">' in content
    assert f'<input type="hidden" name="referent_body" value="{body.pk}">' in content
    assert f'action="{url}"' in content  # the filters travel on
    assert not OrientationDecision.objects.exists()


def test_once_confirmed_each_person_of_the_filtered_queue_gets_the_decision(officer_client):
    body = ReferentBodyFactory()
    people = BeneficiaryFactory.create_batch(3, commune_code="82121")
    elsewhere = BeneficiaryFactory(commune_code="82033")
    url = reverse("orientation_bulk_record") + "?commune=82121"
    response = officer_client.post(
        url, {**decision_post(body), "scope": "all", "confirmed_count": "3"}, follow=True
    )
    assert response.redirect_chain == [(reverse("orientation_bulk_result") + "?commune=82121", 302)]
    assert "3 décisions enregistrées, 0 refusée." in response.content.decode()
    assert set(OrientationDecision.objects.values_list("beneficiary", flat=True)) == {p.pk for p in people}
    assert not OrientationDecision.objects.filter(beneficiary=elsewhere).exists()
    assert AuditEntry.objects.filter(action="recorded_orientation").count() == 3


def test_a_queue_that_changed_since_the_confirmation_is_confirmed_again(officer_client):
    body = ReferentBodyFactory()
    BeneficiaryFactory.create_batch(3)
    response = officer_client.post(
        reverse("orientation_bulk_record"), {**decision_post(body), "scope": "all", "confirmed_count": "2"}
    )
    content = response.content.decode()
    assert "La liste filtrée a changé" in content and "Confirmer pour 3 personnes" in content
    assert not OrientationDecision.objects.exists()


def test_each_decision_of_the_whole_queue_is_still_checked(officer_client):
    body = ReferentBodyFactory()
    fine = BeneficiaryFactory()
    clash = BeneficiaryFactory()
    # In the queue (no decision in force), but that day already holds one of their decisions.
    DecisionFactory(beneficiary=clash, decision_date=date(2025, 2, 1), ended_on=date(2025, 2, 1))
    response = officer_client.post(
        reverse("orientation_bulk_record"),
        {**decision_post(body, decision_date="2025-02-01"), "scope": "all", "confirmed_count": "2"},
        follow=True,
    )
    content = response.content.decode()
    assert "1 décision enregistrée, 1 refusée." in content
    assert "Une décision existe déjà à la date du 01/02/2025" in content
    assert OrientationDecision.objects.filter(beneficiary=fine, nature="05").exists()
    assert OrientationDecision.objects.filter(beneficiary=clash).count() == 1


def test_the_whole_queue_acts_on_its_first_people_up_to_the_limit(officer_client, monkeypatch):
    from orientations import views

    monkeypatch.setattr(views, "BULK_LIMIT", 2)
    body = ReferentBodyFactory()
    newest = [
        BeneficiaryFactory(rsa_start_date=date(2025, 1, day)) for day in (3, 2)
    ]  # the queue's first two
    oldest = BeneficiaryFactory(rsa_start_date=date(2024, 1, 1))
    url = reverse("orientation_bulk_record")
    content = officer_client.post(url, {**decision_post(body), "scope": "all"}).content.decode()
    assert "les 2 premières de la liste (sur 3)" in content and "Confirmer pour 2 personnes" in content
    officer_client.post(url, {**decision_post(body), "scope": "all", "confirmed_count": "3"})
    assert set(OrientationDecision.objects.values_list("beneficiary", flat=True)) == {p.pk for p in newest}
    assert not OrientationDecision.objects.filter(beneficiary=oldest).exists()


def test_the_whole_queue_stays_within_the_users_territories(client, orientation_officer):
    from accounts.models import Territory

    orientation_officer.territories.add(Territory.objects.create(name="Moissac", communes="82112"))
    client.login(username=orientation_officer.username, password=TEST_PASSWORD)
    mine = BeneficiaryFactory(commune_code="82112")
    BeneficiaryFactory(commune_code="82033")
    url = reverse("orientation_bulk_record")
    content = client.post(url, {**decision_post(ReferentBodyFactory()), "scope": "all"}).content.decode()
    assert "sera enregistrée pour 1 personne" in content
    client.post(url, {**decision_post(ReferentBodyFactory()), "scope": "all", "confirmed_count": "1"})
    assert list(OrientationDecision.objects.values_list("beneficiary", flat=True)) == [mine.pk]


def test_a_new_correspondent_is_created_only_once_confirmed(officer_client):
    body = ReferentBodyFactory()
    BeneficiaryFactory()
    new = {"new_last_name": "Roux", "new_first_name": "Léa", "new_phone": "05 63 00 00 00"}
    url = reverse("orientation_bulk_record")
    content = officer_client.post(url, {**decision_post(body), **new, "scope": "all"}).content.decode()
    assert "Roux Léa (nouveau)" in content
    assert not Correspondent.objects.filter(last_name="Roux").exists()
    officer_client.post(url, {**decision_post(body), **new, "scope": "all", "confirmed_count": "1"})
    assert OrientationDecision.objects.get().correspondent.last_name == "Roux"


def test_checked_people_are_still_required_for_the_checked_scope(officer_client):
    BeneficiaryFactory()
    response = officer_client.post(
        reverse("orientation_bulk_record"), {**decision_post(ReferentBodyFactory()), "scope": "selected"}
    )
    assert response.status_code == 400 and "Cochez au moins une personne." in response.content.decode()


# --- Decision dates: before the RSA or before the person's birth --------------------


def test_record_refuses_a_year_typo_before_the_rsa_existed(officer_client):
    person = BeneficiaryFactory()
    response = officer_client.post(
        reverse("orientation_record", args=[person.pk]),
        decision_post(ReferentBodyFactory(), decision_date="0202-11-20"),
    )
    assert response.status_code == 200
    assert (
        'id="id_decision_date_error"><div>La date de décision ne peut pas être antérieure au 01/06/2009'
        in response.content.decode()
    )
    assert not OrientationDecision.objects.exists()


def test_record_refuses_a_date_before_the_persons_birth(officer_client):
    person = BeneficiaryFactory(birth_date=date(2012, 5, 4))
    response = officer_client.post(
        reverse("orientation_record", args=[person.pk]),
        decision_post(ReferentBodyFactory(), decision_date="2011-01-10"),
    )
    assert response.status_code == 200
    assert (
        'id="id_decision_date_error"><div>La date de décision ne peut pas être antérieure à la naissance'
        in response.content.decode()
    )
    assert not OrientationDecision.objects.exists()


def test_correction_refuses_a_date_before_the_rsa_or_the_persons_birth(officer_client):
    decision = DecisionFactory(beneficiary=BeneficiaryFactory(birth_date=date(2012, 5, 4)))
    url = reverse("orientation_correct", args=[decision.pk])
    for typed, message in (
        ("0202-11-20", "antérieure au 01/06/2009"),
        ("2011-01-10", "antérieure à la naissance"),
    ):
        response = officer_client.post(
            url, {**decision_post(decision.referent_body), "decision_date": typed, "reason": "erreur"}
        )
        assert response.status_code == 200
        assert message in response.content.decode()
    decision.refresh_from_db()
    assert decision.decision_date == date(2025, 1, 15)
    assert not OrientationChange.objects.exists()


def test_bulk_refuses_a_date_before_the_rsa_and_each_person_born_after_the_date(officer_client):
    body = ReferentBodyFactory()
    adult, child = BeneficiaryFactory(), BeneficiaryFactory(birth_date=date(2012, 5, 4))
    response = officer_client.post(
        reverse("orientation_bulk_record"),
        {**decision_post(body, decision_date="0202-11-20"), "beneficiaries": [adult.pk, child.pk]},
    )
    assert response.status_code == 400
    assert "antérieure au 01/06/2009" in response.content.decode()
    assert not OrientationDecision.objects.exists()
    response = officer_client.post(
        reverse("orientation_bulk_record"),
        {**decision_post(body, decision_date="2011-01-10"), "beneficiaries": [adult.pk, child.pk]},
        follow=True,
    )
    content = response.content.decode()
    assert "1 décision enregistrée, 1 refusée." in content
    assert "antérieure à la naissance" in content
    assert list(OrientationDecision.objects.values_list("beneficiary", flat=True)) == [adult.pk]


# --- Bulk result: Post/Redirect/Get -------------------------------------------------


def test_the_bulk_result_is_a_page_of_its_own_that_can_be_reloaded(officer_client):
    body = ReferentBodyFactory()
    people = BeneficiaryFactory.create_batch(3, commune_code="82121")
    already = BeneficiaryFactory(commune_code="82121")
    DecisionFactory(beneficiary=already, decision_date=date(2025, 3, 1))
    response = officer_client.post(
        reverse("orientation_bulk_record") + "?commune=82121",
        {
            **decision_post(body, decision_date="2025-02-01"),
            "beneficiaries": [p.pk for p in people] + [already.pk],
        },
    )
    assert response.status_code == 302
    url = response["Location"]
    assert url == reverse("orientation_bulk_result") + "?commune=82121"  # filters kept, no one named
    for _reload in range(2):
        response = officer_client.get(url)
        assert response.status_code == 200
        content = response.content.decode()
        assert "3 décisions enregistrées, 1 refusée." in content
        assert "une nouvelle décision doit être postérieure" in content
        assert all(person.display_name in content for person in [*people, already])
        assert f'href="{reverse("orientation_queue")}?commune=82121"' in content
    assert OrientationDecision.objects.filter(nature="05").count() == 3
    assert AuditEntry.objects.filter(action="recorded_orientation").count() == 3


def test_the_bulk_result_page_without_a_result_says_so_and_links_to_the_queue(officer_client):
    response = officer_client.get(reverse("orientation_bulk_result"))
    assert response.status_code == 200
    content = response.content.decode()
    assert "Aucun enregistrement groupé à afficher" in content
    assert f'href="{reverse("orientation_queue")}"' in content
