"""Django's admin site: users, territories and reference data, and nothing that holds a person."""

import pytest
from django.contrib import admin
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from audit.models import AuditEntry
from beneficiaries.models import Beneficiary
from exchanges.models import ImportRun
from orientations.models import CgpemExport
from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

# The project's models an administrator manages (or, for the runs and exports, reads) there.
OWN_APPS = {"accounts", "beneficiaries", "exchanges", "orientations", "audit"}
ALLOWED = {
    "accounts.user",
    "accounts.territory",
    "orientations.referentbody",
    "orientations.correspondent",
    "orientations.cgpemexport",
    "exchanges.importrun",
    "exchanges.exchangerun",
    "audit.auditentry",
}


def test_no_model_that_holds_a_person_is_on_the_admin_site():
    registered = {model._meta.label_lower for model in admin.site._registry}
    assert {label for label in registered if label.split(".")[0] in OWN_APPS} == ALLOWED
    # Whatever a library registers, nothing points at a beneficiary.
    for model in admin.site._registry:
        assert model is not Beneficiary
        related = {f.related_model for f in model._meta.get_fields() if f.is_relation and f.concrete}
        assert Beneficiary not in related, model


def test_people_are_not_reachable_through_the_admin_site(client, admin_user):
    client.login(username=admin_user.username, password=TEST_PASSWORD)
    assert client.get("/admin/").status_code == 200
    for path in (
        "/admin/beneficiaries/beneficiary/",
        "/admin/exchanges/followup/",
        "/admin/exchanges/reviewcase/",
        "/admin/exchanges/importreject/",
        "/admin/orientations/orientationdecision/",
    ):
        assert client.get(path).status_code == 404, path


def test_runs_and_cgpem_exports_cannot_be_deleted(client, admin_user):
    run = ImportRun.objects.create(file_name="PECGM_082_20250131_M.xml", sha256="0" * 64, size=1)
    export = CgpemExport.objects.create(
        file_name="CGPEM_082_20250131_M.xml",
        path="cgpem/CGPEM_082_20250131_M.xml",
        sha256="0" * 64,
        periodicity="M",
        period_start="2025-01-01",
        period_end="2025-01-31",
    )
    client.login(username=admin_user.username, password=TEST_PASSWORD)
    for url in (
        reverse("admin:exchanges_importrun_delete", args=[run.pk]),
        reverse("admin:orientations_cgpemexport_delete", args=[export.pk]),
    ):
        assert client.get(url).status_code == 403, url
        assert client.post(url, {"post": "yes"}).status_code == 403, url
    assert ImportRun.objects.filter(pk=run.pk).exists()
    assert CgpemExport.objects.filter(pk=export.pk).exists()


def test_the_audit_trail_is_read_only_on_the_admin_site(client, admin_user):
    entry = AuditEntry.objects.create(username="agent", action="viewed_beneficiary")
    client.login(username=admin_user.username, password=TEST_PASSWORD)
    assert client.get(reverse("admin:audit_auditentry_changelist")).status_code == 200
    assert client.get(reverse("admin:audit_auditentry_add")).status_code == 403
    delete = reverse("admin:audit_auditentry_delete", args=[entry.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    change = reverse("admin:audit_auditentry_change", args=[entry.pk])
    assert client.post(change, {"username": "someone else"}).status_code == 403
    entry.refresh_from_db()
    assert entry.username == "agent"


def _change(client, user: User, **changes):
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "role": user.role,
        "is_active": "on",
        "date_joined_0": user.date_joined.strftime("%d/%m/%Y"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
    }
    data.update(changes)
    data = {key: value for key, value in data.items() if value is not None}
    return client.post(reverse("admin:accounts_user_change", args=[user.pk]), data)


def test_the_last_active_admin_cannot_be_demoted_deactivated_or_deleted(client, admin_user):
    client.login(username=admin_user.username, password=TEST_PASSWORD)

    demoted = _change(client, admin_user, role="social_worker")
    assert demoted.status_code == 200
    assert "Il doit rester au moins un administrateur actif" in demoted.content.decode()
    deactivated = _change(client, admin_user, is_active=None)
    assert "Il doit rester au moins un administrateur actif" in deactivated.content.decode()
    assert client.get(reverse("admin:accounts_user_delete", args=[admin_user.pk])).status_code == 403
    admin_user.refresh_from_db()
    assert admin_user.role == "admin" and admin_user.is_active

    # With a second administrator, the first may step down.
    UserFactory(username="adm2", role="admin")
    renamed = _change(client, admin_user, role="social_worker")
    assert renamed.status_code == 302
    admin_user.refresh_from_db()
    assert admin_user.role == "social_worker"


def test_an_inactive_admin_does_not_count_and_others_are_edited_freely(client, admin_user):
    UserFactory(username="adm-old", role="admin", is_active=False)
    worker = UserFactory(username="ts2", role="social_worker")
    client.login(username=admin_user.username, password=TEST_PASSWORD)

    assert "Il doit rester" in _change(client, admin_user, role="social_worker").content.decode()
    assert _change(client, worker, is_active=None).status_code == 302
    worker.refresh_from_db()
    assert not worker.is_active


def test_bulk_deletion_of_users_is_not_offered(client, admin_user):
    client.login(username=admin_user.username, password=TEST_PASSWORD)
    listing = client.get(reverse("admin:accounts_user_changelist"))
    assert listing.status_code == 200
    assert "delete_selected" not in listing.content.decode()


def test_the_admin_site_never_shows_a_second_factor_secret(client, admin_user):
    # Another user's device (the administrator's own would ask them for a code first).
    worker = UserFactory(username="ts3", role="social_worker")
    device = TOTPDevice.objects.create(user=worker, name="téléphone", confirmed=True)
    client.login(username=admin_user.username, password=TEST_PASSWORD)
    page = client.get(reverse("admin:otp_totp_totpdevice_change", args=[device.pk]))
    assert page.status_code == 200
    assert device.key not in page.content.decode()
    assert 'name="key"' not in page.content.decode()
    # Adding one would show its key: devices are enrolled by their owner.
    assert client.get(reverse("admin:otp_totp_totpdevice_add")).status_code == 403
    assert "qrcode" not in page.content.decode()


def test_a_territory_in_use_cannot_be_deleted(client, admin_user):
    """Its users would silently see the whole Département once it is gone."""
    from accounts.models import Territory
    from tests.factories import TerritoryFactory

    used = TerritoryFactory(name="Moissac et environs", communes="82112 82121")
    officer = UserFactory(username="co2", role="orientation_officer")
    officer.territories.add(used)
    unused = TerritoryFactory(name="Vide", communes="82033")
    client.login(username=admin_user.username, password=TEST_PASSWORD)

    page = client.get(reverse("admin:accounts_territory_change", args=[used.pk])).content.decode()
    assert "attribué à 1 utilisateur : retirez-le de son compte" in page
    delete = reverse("admin:accounts_territory_delete", args=[used.pk])
    assert client.get(delete).status_code == 403
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert Territory.objects.filter(pk=used.pk).exists()
    listing = client.get(reverse("admin:accounts_territory_changelist")).content.decode()
    assert "delete_selected" not in listing

    client.post(reverse("admin:accounts_territory_delete", args=[unused.pk]), {"post": "yes"})
    assert not Territory.objects.filter(pk=unused.pk).exists()
