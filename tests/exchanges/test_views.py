"""Admin pages: import runs, rejects, the review queue and its decisions, the follow-up download."""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse

from audit.models import AuditEntry
from beneficiaries.models import Beneficiary, Source
from exchanges.models import (
    FollowUp,
    FollowUpStatus,
    ImportRun,
    ImportStatus,
    JobSeekerSnapshot,
    MatchRule,
    ReviewCase,
    ReviewReason,
    ReviewStatus,
)
from exchanges.pecgm_import import import_pecgm
from orientations.models import OrientationChange
from tests.beneficiaries.factories import followup, registered
from tests.exchanges.import_files import pecgm_file, record_for
from tests.factories import TEST_PASSWORD, BeneficiaryFactory
from tests.orientations.factories import DecisionFactory

pytestmark = pytest.mark.django_db
JAN = date(2025, 1, 31)


@pytest.fixture
def admin_client(client, admin_user):
    client.login(username=admin_user.username, password=TEST_PASSWORD)
    return client


def test_run_list_and_detail_show_counts_and_rejects(admin_client, tmp_path, settings):
    settings.PECGM_MAX_REJECT_RATIO = 0.5
    person = BeneficiaryFactory()
    run = import_pecgm(
        pecgm_file(
            tmp_path, [record_for(person), record_for(None, birth_date="20251340", support_mode="ZZZ")], JAN
        )
    )
    page = admin_client.get(reverse("import_run_list"))
    assert page.status_code == 200
    assertions = [run.file_name, "importé avec rejets", reverse("import_run_detail", args=[run.pk])]
    for text in assertions:
        assert text in page.content.decode()

    detail = admin_client.get(reverse("import_run_detail", args=[run.pk]))
    content = detail.content.decode()
    assert "Rapprochés par NIR" in content and "DATE_NAISSANCE" in content and "20251340" in content
    assert reverse("import_run_rejects_csv", args=[run.pk]) in content
    # The rejected values are what France Travail sent about people: reading them is recorded.
    entry = AuditEntry.objects.get(action="viewed_rejects")
    assert (entry.object_type, entry.object_id) == ("exchanges.importrun", str(run.pk))

    csv_response = admin_client.get(reverse("import_run_rejects_csv", args=[run.pk]))
    text = b"".join(csv_response.streaming_content).decode("utf-8-sig")
    assert text.splitlines()[0] == "enregistrement;niveau;champ;valeur;motif"
    assert "2;rejet;DATE_NAISSANCE;20251340;" in text


def test_the_rejects_csv_never_holds_a_formula(admin_client, tmp_path, settings):
    settings.PECGM_MAX_REJECT_RATIO = 0.6
    run = import_pecgm(pecgm_file(tmp_path, [record_for(None), record_for(None, birth_date="=1+2")], JAN))
    response = admin_client.get(reverse("import_run_rejects_csv", args=[run.pk]))
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert ";'=1+2;" in text and ";=1+2;" not in text


def test_rejected_run_shows_its_reason(admin_client, tmp_path):
    run = import_pecgm(pecgm_file(tmp_path, [record_for(None)], JAN, departement="31"))
    response = admin_client.get(reverse("import_run_detail", args=[run.pk]))
    assert response.status_code == 200
    assert run.error_message in response.content.decode()


def test_running_run_is_polled(admin_client):
    run = ImportRun.objects.create(
        file_name="x.xml",
        sha256="a" * 64,
        status=ImportStatus.RUNNING,
        progress_done=50,
        progress_total=200,
    )
    response = admin_client.get(reverse("import_run_progress", args=[run.pk]))
    content = response.content.decode()
    assert 'hx-trigger="every 2s"' in content and 'value="25"' in content
    run.status = ImportStatus.IMPORTED
    run.save()
    assert (
        "hx-trigger" not in admin_client.get(reverse("import_run_progress", args=[run.pk])).content.decode()
    )


def test_followup_download(admin_client, tmp_path):
    person = BeneficiaryFactory()
    import_pecgm(pecgm_file(tmp_path, [record_for(person)], JAN))
    response = admin_client.get(reverse("followup_export"))
    assert response["Content-Disposition"].startswith('attachment; filename="suivi-france-travail-')
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert text.splitlines()[0].startswith("nir;nom_naissance;prenom;date_naissance;statut_pe")
    assert f"{person.nir};" in text and ";inscrit;" in text
    assert AuditEntry.objects.filter(action="exported", object_type="followup_csv").exists()


def test_social_worker_cannot_see_runs_nor_reviews(client, social_worker):
    client.login(username=social_worker.username, password=TEST_PASSWORD)
    for name in ("import_run_list", "review_list", "followup_export"):
        assert client.get(reverse(name)).status_code == 403
    assert "Imports PECGM" not in client.get(reverse("beneficiary_list")).content.decode()


def test_nav_links_for_admins(admin_client):
    content = admin_client.get(reverse("beneficiary_list")).content.decode()
    assert reverse("import_run_list") in content and reverse("review_list") in content


@pytest.fixture
def conflict(tmp_path):
    """A record whose NIR is known with another birth date: waiting in the queue."""
    person = BeneficiaryFactory()
    import_pecgm(pecgm_file(tmp_path, [record_for(person, birth_date=date(1970, 1, 1))], JAN))
    return ReviewCase.objects.get(), person


def test_review_queue_lists_open_cases(admin_client, conflict):
    case, person = conflict
    response = admin_client.get(reverse("review_list"))
    content = response.content.decode()
    assert "NIR connu avec une autre date de naissance" in content
    assert reverse("review_detail", args=[case.pk]) in content
    assert "01/01/1970" in content  # the birth date France Travail sent
    assert "Rien à vérifier" in admin_client.get(reverse("review_list") + "?etat=linked").content.decode()


def test_case_page_shows_received_data_and_candidates(admin_client, admin_user, conflict):
    case, person = conflict
    content = admin_client.get(reverse("review_detail", args=[case.pk])).content.decode()
    assert "01/01/1970" in content and person.display_name in content
    assert "Date de naissance" in content and "Prénom" in content  # titles, not the file's tags
    # Masked on screen, the candidate's and the one France Travail sent (13 digits, no key).
    assert case.values["nir"] == person.nir[:13]
    assert person.nir[:13] not in content and person.nir[:5] + "•" * 8 in content
    entry = AuditEntry.objects.get(action="viewed_review")
    assert (entry.user, entry.object_id) == (admin_user, str(case.pk))


def test_territories_do_not_bind_admins_on_the_case_page(client, admin_user, conflict):
    """An admin manages accounts and territories: a territory of theirs would be a limit they can lift.

    They see the whole Département (beneficiaries.scoping), even when a territory reached
    their account some other way than the admin site and add_user, which refuse it.
    """
    from accounts.models import Territory

    case, person = conflict
    elsewhere = "82112" if person.commune_code != "82112" else "82033"
    admin_user.territories.add(Territory.objects.create(name="Ailleurs", communes=elsewhere))
    client.login(username=admin_user.username, password=TEST_PASSWORD)
    response = client.get(reverse("review_detail", args=[case.pk]))
    assert response.status_code == 200
    assert [candidate.pk for candidate in response.context["candidates"]] == [person.pk]


def test_link_to_a_candidate(admin_client, admin_user, conflict):
    case, person = conflict
    response = admin_client.post(
        reverse("review_resolve", args=[case.pk]),
        {"action": "link", "beneficiary": person.pk, "note": "date de naissance erronée chez France Travail"},
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert (case.status, case.resolved_by, case.beneficiary) == (ReviewStatus.LINKED, admin_user, person)
    assert case.resolution_note == "date de naissance erronée chez France Travail" and case.resolved_at
    assert case.snapshot.beneficiary == person
    assert FollowUp.objects.get(beneficiary=person).status == FollowUpStatus.REGISTERED
    entry = AuditEntry.objects.get(action="resolved_review")
    assert (entry.user, entry.object_id, entry.extra) == (admin_user, str(case.pk), {"decision": "linked"})
    # Decided once: a second decision is refused.
    admin_client.post(reverse("review_resolve", args=[case.pk]), {"action": "dismiss", "note": "x"})
    case.refresh_from_db()
    assert case.status == ReviewStatus.LINKED


def test_create_from_a_doubtful_record(admin_client, conflict):
    case, person = conflict
    admin_client.post(reverse("review_resolve", args=[case.pk]), {"action": "create", "note": "homonyme"})
    case.refresh_from_db()
    created = case.beneficiary
    assert case.status == ReviewStatus.CREATED and created != person
    assert created.source == Source.FRANCE_TRAVAIL and created.birth_date == date(1970, 1, 1)
    assert created.followup.status == FollowUpStatus.REGISTERED
    # The received record is the new person's, remembered as an admin's confirmation.
    assert (case.snapshot.beneficiary, case.snapshot.match_rule) == (created, MatchRule.CONFIRMED)


def test_dismiss_needs_a_reason(admin_client, conflict):
    case, _person = conflict
    response = admin_client.post(
        reverse("review_resolve", args=[case.pk]), {"action": "dismiss", "note": ""}, follow=True
    )
    assert "Indiquez pourquoi" in response.content.decode()
    case.refresh_from_db()
    assert case.status == ReviewStatus.OPEN
    admin_client.post(reverse("review_resolve", args=[case.pk]), {"action": "dismiss", "note": "pas au RSA"})
    case.refresh_from_db()
    assert (case.status, case.resolution_note) == (ReviewStatus.DISMISSED, "pas au RSA")
    assert case.snapshot.beneficiary is None


def test_merge_a_person_created_from_france_travail(admin_client, tmp_path):
    local = BeneficiaryFactory(nir="", caf_number="")
    # France Travail spells the name otherwise: nobody is found, a person is created.
    import_pecgm(pecgm_file(tmp_path, [record_for(local, birth_name="NOM-DIFFERENT")], JAN))
    case = ReviewCase.objects.get(reason=ReviewReason.CREATED_FROM_FT)
    created = case.beneficiary

    # The name is POSTed: it never travels in a URL, and one in the query string is ignored.
    ignored = admin_client.get(reverse("review_detail", args=[case.pk]), {"nom": local.birth_name})
    assert local.display_name not in ignored.content.decode()
    search = admin_client.post(reverse("review_detail", args=[case.pk]), {"nom": local.birth_name})
    assert local.display_name in search.content.decode()
    assert 'method="post" role="search"' in search.content.decode()

    admin_client.post(reverse("review_resolve", args=[case.pk]), {"action": "link", "beneficiary": local.pk})
    assert not Beneficiary.objects.filter(pk=created.pk).exists()
    assert JobSeekerSnapshot.objects.get().beneficiary == local
    assert FollowUp.objects.get().beneficiary == local
    case.refresh_from_db()
    assert (case.status, case.beneficiary) == (ReviewStatus.LINKED, local)


def test_review_search_is_the_lists_search(admin_client, tmp_path):
    """A NIR typed with spaces and a France Travail identifier find the person, as in the lists."""
    local = BeneficiaryFactory(nir="185058212145627", caf_number="")
    known = BeneficiaryFactory()
    followup(known, **registered(ft_identifier="7654321K"))
    import_pecgm(pecgm_file(tmp_path, [record_for(local, nir="", birth_name="NOM-DIFFERENT")], JAN))
    case = ReviewCase.objects.get(reason=ReviewReason.CREATED_FROM_FT)
    url = reverse("review_detail", args=[case.pk])
    assert local.display_name in admin_client.post(url, {"nom": "1 85 05 82 121 456"}).content.decode()
    assert known.display_name in admin_client.post(url, {"nom": "7654321k"}).content.decode()


def test_confirm_a_person_created_from_france_travail(admin_client, tmp_path):
    import_pecgm(pecgm_file(tmp_path, [record_for(None)], JAN))
    case = ReviewCase.objects.get()
    admin_client.post(reverse("review_resolve", args=[case.pk]), {"action": "create"})
    case.refresh_from_db()
    assert case.status == ReviewStatus.CREATED and Beneficiary.objects.count() == 1


@pytest.fixture
def created_case(tmp_path):
    """A person created from France Travail (nobody found), and the Département's person they are."""
    local = BeneficiaryFactory(nir="", caf_number="")
    import_pecgm(pecgm_file(tmp_path, [record_for(local, birth_name="NOM-DIFFERENT")], JAN))
    case = ReviewCase.objects.get(reason=ReviewReason.CREATED_FROM_FT)
    return case, case.beneficiary, local


def test_link_moves_the_decisions_of_the_person_created_from_france_travail(admin_client, created_case):
    # Found by a review of the admin workflows in the browser: an orientation officer had
    # oriented the created person, and « Rattacher » answered a server error.
    case, created, local = created_case
    decision = DecisionFactory(beneficiary=created)
    change = OrientationChange.objects.create(
        decision=decision, field="nature", old_value="02", new_value="01"
    )

    response = admin_client.post(
        reverse("review_resolve", args=[case.pk]), {"action": "link", "beneficiary": local.pk}, follow=True
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert "1 décision d&#x27;orientation de la personne créée depuis France Travail" in content
    assert not Beneficiary.objects.filter(pk=created.pk).exists()
    decision.refresh_from_db()
    assert decision.beneficiary == local and decision.is_current
    assert list(decision.changes.all()) == [change]
    case.refresh_from_db()
    assert (case.status, case.beneficiary) == (ReviewStatus.LINKED, local)


def test_a_decision_moved_by_rattacher_goes_in_the_next_flux_under_the_right_identity(
    admin_client, created_case
):
    from datetime import datetime
    from pathlib import Path

    from django.utils import timezone
    from lxml import etree

    from orientations.cgpem import generate_cgpem

    case, created, local = created_case
    long_ago = datetime(2024, 5, 1, 12, tzinfo=timezone.get_current_timezone())
    DecisionFactory(beneficiary=created, decision_date=date(2024, 5, 1), changed_at=long_ago)
    today = timezone.localdate()
    assert generate_cgpem("Q", today).records == 0
    admin_client.post(reverse("review_resolve", args=[case.pk]), {"action": "link", "beneficiary": local.pk})
    export = generate_cgpem("Q", today)
    names = [element.text for element in etree.parse(Path(export.path)).iter("NOM_NAISSANCE")]
    assert names == [local.birth_name]


def test_link_is_refused_when_both_people_have_decisions(admin_client, created_case):
    case, created, local = created_case
    theirs = DecisionFactory(beneficiary=created)
    ours = DecisionFactory(beneficiary=local)

    response = admin_client.post(
        reverse("review_resolve", args=[case.pk]), {"action": "link", "beneficiary": local.pk}, follow=True
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert "a déjà des décisions d&#x27;orientation, comme la personne choisie" in content
    # Nothing changed: the case is still open, both people keep their decisions.
    case.refresh_from_db()
    assert (case.status, case.beneficiary) == (ReviewStatus.OPEN, created)
    assert Beneficiary.objects.filter(pk=created.pk).exists()
    assert list(created.orientation_decisions.all()) == [theirs]
    assert list(local.orientation_decisions.all()) == [ours]
    assert not AuditEntry.objects.filter(action="resolved_review").exists()


def test_link_refuses_cleanly_what_still_holds_on_to_the_created_person(
    admin_client, created_case, monkeypatch
):
    # Should another protected relation appear, the link is refused, not a server error.
    from exchanges import review

    case, created, local = created_case
    DecisionFactory(beneficiary=created)
    monkeypatch.setattr(review, "_move_decisions", lambda created_id, beneficiary: 0)

    response = admin_client.post(
        reverse("review_resolve", args=[case.pk]), {"action": "link", "beneficiary": local.pk}, follow=True
    )
    assert response.status_code == 200
    assert "encore liée à d&#x27;autres données" in response.content.decode()
    case.refresh_from_db()
    assert case.status == ReviewStatus.OPEN and Beneficiary.objects.filter(pk=created.pk).exists()


def test_search_leaves_out_the_cases_own_created_person(admin_client, created_case):
    # Found by a review of the admin workflows in the browser: the case's own created person was
    # offered with a « Rattacher » button, which the link then refuses.
    case, created, _local = created_case
    namesake = BeneficiaryFactory(birth_name=created.birth_name)
    search = admin_client.post(reverse("review_detail", args=[case.pk]), {"nom": created.birth_name})
    assert search.context["found"] == [namesake]
