"""The audit trail: written for each action, append-only, searchable by admins."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.admin.sites import site
from django.db import DatabaseError, connection, transaction
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

import audit
from audit.logfilter import MASK
from audit.models import AppendOnlyError, AuditEntry
from tests.factories import TEST_PASSWORD, BeneficiaryFactory


@pytest.mark.django_db
def test_log_from_a_request_keeps_user_address_and_object(social_worker):
    beneficiary = BeneficiaryFactory()
    request = RequestFactory().get("/", REMOTE_ADDR="192.0.2.7")
    request.user = social_worker
    entry = audit.log(request, audit.Action.VIEWED_BENEFICIARY, beneficiary, origin="test")
    entry.refresh_from_db()
    assert entry.user == social_worker and entry.username == "ts"
    assert entry.ip_address == "192.0.2.7"
    assert (entry.object_type, entry.object_id) == ("beneficiaries.beneficiary", str(beneficiary.pk))
    assert entry.extra == {"origin": "test"}
    assert entry.timestamp.utcoffset() == timedelta(0)  # stored and read in UTC
    assert entry.get_action_display() == "A consulté un bénéficiaire"


@pytest.mark.django_db
def test_log_from_a_command_or_the_system():
    entry = audit.log(None, "purge", object_type="exchange_file", object_id=12, deleted=3)
    assert entry.user is None and entry.username == "" and entry.ip_address is None
    assert entry.object_id == "12"


@pytest.mark.django_db
def test_nir_like_details_are_masked_and_long_ones_cut():
    entry = audit.log(
        None, audit.Action.EXPORTED, query="1 85 05 78 006 084", nir="185057800608436", note="x" * 150, rows=3
    )
    assert entry.extra["query"] == entry.extra["nir"] == MASK
    assert entry.extra["note"] == "x" * 100 and entry.extra["rows"] == 3


@pytest.mark.django_db
def test_file_names_and_hashes_are_kept():
    sha = "a1" + "4" * 20 + "b" * 42
    entry = audit.log(None, audit.Action.DOWNLOADED_FILE, file="PECGM_082_20250131_M.xml", sha256=sha[:64])
    assert entry.extra == {"file": "PECGM_082_20250131_M.xml", "sha256": sha[:64]}


@pytest.mark.django_db
def test_structured_details_refused():
    with pytest.raises(TypeError):
        audit.log(None, audit.Action.EXPORTED, names=["Dupont"])
    assert not AuditEntry.objects.exists()


@pytest.mark.django_db
def test_unknown_action_refused():
    with pytest.raises(ValueError):
        audit.log(None, "had_a_look")


@pytest.mark.django_db
def test_entries_cannot_be_changed_or_deleted():
    entry = audit.log(None, audit.Action.PURGE)
    entry.action = audit.Action.EXPORTED
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.all().update(action="exported")
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.all().delete()
    assert AuditEntry.objects.get().action == audit.Action.PURGE


@pytest.mark.django_db
def test_only_the_retention_purge_removes_entries():
    old = AuditEntry.objects.create(action=audit.Action.PURGE, timestamp=timezone.now() - timedelta(days=400))
    recent = audit.log(None, audit.Action.PURGE)
    assert AuditEntry.objects.purge_older_than(timezone.now() - timedelta(days=365)) == 1
    assert list(AuditEntry.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not AuditEntry.objects.filter(pk=old.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_the_database_refuses_changes_too(social_worker):
    """Even SQL that bypasses the model cannot rewrite the trail."""
    entry = audit.log(social_worker, audit.Action.VIEWED_BENEFICIARY, object_type="b", object_id=1)
    table = AuditEntry._meta.db_table
    for statement in (
        f"UPDATE {table} SET object_id = '2' WHERE id = %s",  # noqa: S608
        f"UPDATE {table} SET username = 'quelqu-un' WHERE id = %s",  # noqa: S608
        f"UPDATE {table} SET timestamp = '2000-01-01 00:00:00' WHERE id = %s",  # noqa: S608
    ):
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [entry.pk])
    entry.refresh_from_db()
    assert (entry.object_id, entry.username) == ("1", "ts")


@pytest.mark.django_db
def test_deleting_a_user_keeps_their_entries(social_worker):
    # The one change the database lets through: the account link, cleared by Django.
    audit.log(social_worker, audit.Action.EXPORTED)
    social_worker.delete()
    entry = AuditEntry.objects.get()
    assert entry.user is None and entry.username == "ts"


@pytest.mark.django_db
def test_admin_site_is_read_only(rf, admin_user):
    model_admin = site._registry[AuditEntry]
    request = rf.get("/admin/")
    request.user = admin_user
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)


@pytest.mark.django_db
def test_viewing_a_beneficiary_is_audited(client, social_worker):
    beneficiary = BeneficiaryFactory()
    client.login(username="ts", password=TEST_PASSWORD)
    assert client.get(reverse("beneficiary_detail", args=[beneficiary.pk])).status_code == 200
    entry = AuditEntry.objects.get(action=audit.Action.VIEWED_BENEFICIARY)
    assert (entry.user, entry.object_id) == (social_worker, str(beneficiary.pk))


@pytest.mark.django_db
def test_nir_is_masked_until_revealed_and_the_reveal_is_audited(client, social_worker):
    beneficiary = BeneficiaryFactory()
    client.login(username="ts", password=TEST_PASSWORD)
    page = client.get(reverse("beneficiary_detail", args=[beneficiary.pk])).content.decode()
    assert beneficiary.nir not in page and beneficiary.nir_key not in page
    assert beneficiary.masked_nir in page
    assert f'hx-post="{reverse("reveal_nir", args=[beneficiary.pk])}"' in page
    assert not AuditEntry.objects.filter(action=audit.Action.REVEALED_NIR).exists()

    assert client.get(reverse("reveal_nir", args=[beneficiary.pk])).status_code == 405
    revealed = client.post(reverse("reveal_nir", args=[beneficiary.pk]), HTTP_HX_REQUEST="true")
    assert revealed.status_code == 200 and beneficiary.nir in revealed.content.decode()
    assert "no-store" in revealed["Cache-Control"]
    entry = AuditEntry.objects.get(action=audit.Action.REVEALED_NIR)
    assert (entry.user, entry.object_id) == (social_worker, str(beneficiary.pk))
    assert beneficiary.nir not in str(entry.extra)
    assert "<html" not in revealed.content.decode()  # a fragment, for htmx

    # Without JavaScript the form posts as a plain form: a whole page answers.
    page = client.post(reverse("reveal_nir", args=[beneficiary.pk])).content.decode()
    assert "<html" in page and beneficiary.nir in page
    assert reverse("beneficiary_detail", args=[beneficiary.pk]) in page
    assert AuditEntry.objects.filter(action=audit.Action.REVEALED_NIR).count() == 2


@pytest.mark.django_db
def test_list_masks_nir(client, social_worker):
    beneficiary = BeneficiaryFactory()
    client.login(username="ts", password=TEST_PASSWORD)
    page = client.get(reverse("beneficiary_list")).content.decode()
    assert beneficiary.masked_nir in page and beneficiary.nir_key not in page


@pytest.fixture
def entries(social_worker, orientation_officer):
    first = audit.log(social_worker, audit.Action.VIEWED_BENEFICIARY, object_type="b", object_id=1)
    audit.log(orientation_officer, audit.Action.RECORDED_ORIENTATION, object_type="o", object_id=2)
    audit.log(social_worker, audit.Action.EXPORTED, object_type="b", object_id=3)
    return first


@pytest.mark.django_db
def test_admin_searches_the_trail(client, admin_user, entries):
    client.login(username=admin_user.username, password=TEST_PASSWORD)
    url = reverse("audit_search")

    def rows(**filters) -> int:
        response = client.get(url, filters)
        assert response.status_code == 200
        return response.context["page"].paginator.count

    assert rows() == 4  # the admin's own login is in the trail too
    assert rows(username="ts") == 2
    assert rows(action="recorded_orientation") == 1
    assert rows(object_id="3") == 1
    today = timezone.localdate()
    assert rows(start=today.isoformat(), end=today.isoformat(), username="co") == 1
    assert rows(end=(today - timedelta(days=1)).isoformat()) == 0
    # An invalid filter is reported and ignored, as on the lists; the valid ones still apply.
    invalid = client.get(url, {"start": "pas-une-date", "username": "ts"})
    assert invalid.context["page"].paginator.count == 2
    assert 'id="id_start_error"' in invalid.content.decode()
    # Dates the wrong way round: said, and the end is ignored rather than showing nothing.
    backwards = client.get(url, {"start": today.isoformat(), "end": (today - timedelta(days=3)).isoformat()})
    assert "La date de fin précède la date de début" in backwards.content.decode()
    assert backwards.context["page"].paginator.count == 4
    page = client.get(url, {"action": "recorded_orientation"}).content.decode()
    assert "A enregistré une orientation" in page


@pytest.mark.django_db
def test_the_trail_shows_objects_and_details_in_words(client, admin_user, social_worker):
    person = BeneficiaryFactory()
    audit.log(social_worker, audit.Action.VIEWED_BENEFICIARY, person, page="orientation_history")
    audit.log(
        social_worker, audit.Action.EXPORTED, object_type="beneficiaries.cohort", rows=318, search=False
    )
    client.login(username=admin_user.username, password=TEST_PASSWORD)
    page = client.get(reverse("audit_search"), {"username": "ts"}).content.decode()
    assert f"bénéficiaire n° {person.pk}" in page
    assert "page : historique des orientations" in page
    assert "lignes : 318 ; recherche : non" in page
    audit.log(
        social_worker, audit.Action.RESOLVED_REVIEW, object_type="exchanges.reviewcase", decision="linked"
    )
    audit.log(social_worker, audit.Action.CHANGED_ORIENTATION, fields="nature,decision_date")
    audit.log(
        social_worker, audit.Action.STARTED_EXCHANGE, object_type="exchanges.exchangerun", direction="fetch"
    )
    page = client.get(reverse("audit_search"), {"username": "ts"}).content.decode()
    assert "décision : rattaché à un bénéficiaire" in page
    assert "champs : nature, date de décision" in page
    assert "échange : Réception PECGM" in page  # exchanges.runs.Direction's own label
    assert "beneficiaries.beneficiary" not in page and "search=False" not in page


@pytest.mark.django_db
def test_trail_is_paginated(client, admin_user, settings):
    for number in range(120):
        audit.log(None, audit.Action.PURGE, object_id=number)
    client.login(username=admin_user.username, password=TEST_PASSWORD)
    first = client.get(reverse("audit_search"), {"action": "purge"})
    assert len(first.context["page"].object_list) == 100
    assert "action=purge&amp;page=2" in first.content.decode()
    second = client.get(reverse("audit_search"), {"action": "purge", "page": 2})
    assert len(second.context["page"].object_list) == 20


@pytest.mark.django_db
def test_trail_closed_to_other_roles(client, social_worker, orientation_officer):
    for user in (social_worker, orientation_officer):
        client.force_login(user)
        assert client.get(reverse("audit_search")).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["start", "end"])
@pytest.mark.parametrize("value", ["0001-01-01", "1899-12-31", "9999-12-31"])
def test_dates_out_of_range_are_refused_not_a_server_error(client, admin_user, field, value):
    client.login(username=admin_user.username, password=TEST_PASSWORD)
    response = client.get(reverse("audit_search"), {field: value})
    assert response.status_code == 200
    assert "Saisissez une date entre le 01/01/1900" in response.content.decode()
    assert client.get(reverse("audit_search"), {field: "1900-01-01"}).status_code == 200
