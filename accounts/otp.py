"""TOTP enrolment (the QR code an authenticator app scans) and the throttling of wrong codes."""

from __future__ import annotations

import math
from base64 import b32encode

import django_otp.models
import qrcode
import qrcode.image.svg
from django.conf import settings
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import ngettext
from django_otp.plugins.otp_totp.models import TOTPDevice

# The session remembers which unconfirmed device this enrolment showed.
PENDING_DEVICE = "otp_pending_device"


def pending_device(user, session) -> TOTPDevice:
    """The device this enrolment (this session) showed, or a new one with a fresh secret.

    A secret shown in an earlier session is never shown again: whoever saw it
    then (over a shoulder, on a screen left open) cannot use it once the user
    confirms. The user's other unconfirmed devices are deleted.
    """
    device = TOTPDevice.objects.filter(user=user, confirmed=False, pk=session.get(PENDING_DEVICE)).first()
    if device is None:
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        device = TOTPDevice.objects.create(user=user, name="application", confirmed=False)
        session[PENDING_DEVICE] = device.pk
    return device


def cap_throttle_delay() -> None:
    """Bound django-otp's wait after wrong codes (1 s, 2 s, 4 s… doubling, for ever otherwise).

    Unbounded, twenty wrong codes lock the user out for days and the right one
    is refused without a word. django-otp reads this bound at each check.
    """
    django_otp.models.MAX_THROTTLE_DELAY_SECONDS = settings.OTP_THROTTLE_MAX_SECONDS


def throttle_wait(device) -> int:
    """Seconds before this device accepts a code again (0: now)."""
    allowed, details = device.verify_is_allowed()
    if allowed or not details or "locked_until" not in details:
        return 0
    return max(1, math.ceil((details["locked_until"] - timezone.now()).total_seconds()))


def wait_text(seconds: int) -> str:
    if seconds < 60:
        return ngettext("%(count)d seconde", "%(count)d secondes", seconds) % {"count": seconds}
    minutes = math.ceil(seconds / 60)
    return ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}


def qr_svg(device: TOTPDevice, label: str) -> SafeString:
    """An inline SVG (no script, no style: allowed by the strict CSP)."""
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=10)
    svg = image.to_string(encoding="unicode")
    return mark_safe(svg.replace("<svg ", f'<svg role="img" aria-label="{escape(label)}" ', 1))  # noqa: S308


def secret_for_typing(device: TOTPDevice) -> str:
    """The base32 secret in groups of four, for apps that cannot scan."""
    secret = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
