"""TOTP second factor (django-otp): optional, forced on admins by OTP_REQUIRED_FOR_ADMINS."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.actions import Action
from audit.models import AuditEntry
from tests.factories import TEST_PASSWORD


def code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def unthrottle(device: TOTPDevice) -> None:
    """A wrong code makes django-otp wait before the next try: skip the wait."""
    device.refresh_from_db()
    device.throttle_reset()


def login(client, user):
    response = client.post(reverse("login"), {"username": user.username, "password": TEST_PASSWORD})
    assert response.status_code == 302
    return response


@pytest.mark.django_db
def test_admin_without_obligation_goes_straight_in(client, admin_user, settings):
    settings.OTP_REQUIRED_FOR_ADMINS = False
    login(client, admin_user)
    assert client.get(reverse("home")).status_code == 200


@pytest.mark.django_db
def test_admin_must_enrol_when_required(client, admin_user, settings):
    settings.OTP_REQUIRED_FOR_ADMINS = True
    login(client, admin_user)
    response = client.get(reverse("beneficiary_list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("otp_setup"))
    assert client.get("/admin/").status_code == 302  # the admin site too

    page = client.get(response["Location"])
    assert page.status_code == 200
    assert "<svg" in page.content.decode()  # the QR code, inline
    device = TOTPDevice.objects.get(user=admin_user, confirmed=False)

    refused = client.post(reverse("otp_setup"), {"token": "000000" if code(device) != "000000" else "111111"})
    assert "ne correspond pas" in refused.content.decode()
    unthrottle(device)
    done = client.post(reverse("otp_setup"), {"token": code(device), "next": reverse("beneficiary_list")})
    assert done.status_code == 302 and done["Location"] == reverse("beneficiary_list")
    assert client.get(reverse("beneficiary_list")).status_code == 200
    device.refresh_from_db()
    assert device.confirmed
    assert AuditEntry.objects.filter(action=Action.SECOND_FACTOR_ENROLLED, user=admin_user).exists()


@pytest.mark.django_db
def test_enrolled_user_must_give_a_code_after_the_password(client, social_worker, settings):
    settings.OTP_REQUIRED_FOR_ADMINS = False
    device = TOTPDevice.objects.create(user=social_worker, name="app", confirmed=True)
    login(client, social_worker)
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("otp_verify"))

    wrong = client.post(reverse("otp_verify"), {"token": "abcdef"})
    assert "Code incorrect" in wrong.content.decode()
    assert client.get(reverse("home")).status_code == 302
    assert AuditEntry.objects.filter(action=Action.LOGIN_FAILED, extra__step="second_factor").exists()

    unthrottle(device)
    ok = client.post(reverse("otp_verify"), {"token": code(device)})
    assert ok.status_code == 302
    assert client.get(reverse("home")).status_code == 200


@pytest.mark.django_db
def test_next_parameter_cannot_leave_the_site(client, social_worker):
    device = TOTPDevice.objects.create(user=social_worker, name="app", confirmed=True)
    login(client, social_worker)
    response = client.post(reverse("otp_verify"), {"token": code(device), "next": "https://evil.example/"})
    assert response["Location"] == "/"


@pytest.mark.django_db
def test_a_device_confirmed_elsewhere_is_asked_for_at_the_next_request(client, social_worker, settings):
    """The user of each request says whether they have a device (UserBackend), read afresh each time."""
    settings.OTP_REQUIRED_FOR_ADMINS = False
    login(client, social_worker)
    assert client.get(reverse("home")).status_code == 200
    device = TOTPDevice.objects.create(user=social_worker, name="app", confirmed=False)
    assert client.get(reverse("home")).status_code == 200  # not confirmed: nothing asked yet

    device.confirmed = True
    device.save()
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("otp_verify"))


@pytest.mark.django_db
def test_a_request_does_not_look_the_devices_up_on_its_own(client, social_worker, settings):
    settings.OTP_REQUIRED_FOR_ADMINS = False
    login(client, social_worker)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("home")).status_code == 200
    device_table = TOTPDevice._meta.db_table
    reads = [query["sql"] for query in queries if device_table in query["sql"]]
    # One read, inside the user's own query, and none of its own.
    assert len(reads) == 1 and reads[0].lstrip().upper().startswith("SELECT") and "accounts_user" in reads[0]


@pytest.mark.django_db
def test_each_enrolment_shows_a_fresh_secret(client, admin_user, settings):
    """A secret seen at an earlier login (over a shoulder, on a screen left open) is never shown again."""
    settings.OTP_REQUIRED_FOR_ADMINS = True
    login(client, admin_user)
    first = client.get(reverse("otp_setup")).context["secret"]
    assert client.get(reverse("otp_setup")).context["secret"] == first  # same enrolment, same secret
    client.post(reverse("logout"))

    login(client, admin_user)
    second = client.get(reverse("otp_setup")).context["secret"]
    assert second != first
    assert TOTPDevice.objects.filter(user=admin_user, confirmed=False).count() == 1


def fail(device: TOTPDevice, times: int) -> None:
    """`times` wrong codes in a row, as django-otp records them."""
    from django.utils import timezone

    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_count=times, throttling_failure_timestamp=timezone.now()
    )


@pytest.mark.django_db
def test_throttled_code_says_so_and_for_how_long(client, social_worker, settings):
    settings.OTP_REQUIRED_FOR_ADMINS = False
    device = TOTPDevice.objects.create(user=social_worker, name="app", confirmed=True)
    login(client, social_worker)
    fail(device, 6)  # the next code is checked no sooner than 32 seconds later
    refused = client.post(reverse("otp_verify"), {"token": code(device)}).content.decode()
    assert "les essais sont ralentis" in refused and "même juste" in refused
    assert "secondes" in refused
    assert client.get(reverse("home")).status_code == 302


@pytest.mark.django_db
def test_throttling_delay_is_capped(client, social_worker, settings):
    from datetime import timedelta

    from django.utils import timezone

    settings.OTP_REQUIRED_FOR_ADMINS = False
    device = TOTPDevice.objects.create(user=social_worker, name="app", confirmed=True)
    login(client, social_worker)
    fail(device, 40)  # uncapped: 2**39 seconds, some 17 000 years
    refused = client.post(reverse("otp_verify"), {"token": code(device)}).content.decode()
    assert "Réessayez dans 15 minutes" in refused

    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_timestamp=timezone.now() - timedelta(seconds=settings.OTP_THROTTLE_MAX_SECONDS + 1)
    )
    assert client.post(reverse("otp_verify"), {"token": code(device)}).status_code == 302
    assert client.get(reverse("home")).status_code == 200
