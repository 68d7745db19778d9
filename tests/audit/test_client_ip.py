"""The client address used by the lockout and the audit log."""

import ipaddress

import pytest
from django.test import RequestFactory

from audit.client_ip import client_ip


@pytest.mark.parametrize(
    "count, forwarded, expected",
    [
        (0, "203.0.113.9", "10.0.0.1"),  # no proxy trusted: the header is the client's word only
        (1, "203.0.113.9", "203.0.113.9"),
        (1, "198.51.100.1, 203.0.113.9", "203.0.113.9"),  # the left part is spoofable
        (2, "198.51.100.1, 10.0.0.2", "198.51.100.1"),
        (2, "203.0.113.9", "10.0.0.1"),  # fewer hops than proxies: do not guess
        (1, "pas-une-adresse", "10.0.0.1"),
    ],
)
def test_client_ip(settings, count, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = count
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("10.0.0.0/8")]
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


@pytest.mark.parametrize(
    "remote, forwarded, expected",
    [
        # Straight to the application (no proxy in front): the header is ignored.
        ("198.51.100.7", "203.0.113.9", "198.51.100.7"),
        ("198.51.100.7", "10.0.0.2, 203.0.113.9", "198.51.100.7"),
        # Through the outer proxy, then the inner one: the client as the outer proxy saw it.
        ("10.0.0.1", "203.0.113.9, 10.0.0.2", "203.0.113.9"),
        # An inner hop that is not one of our proxies: someone else wrote it.
        ("10.0.0.1", "203.0.113.9, 198.51.100.66", "10.0.0.1"),
    ],
)
def test_the_header_is_read_only_from_trusted_proxies(settings, remote, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = 2
    settings.TRUSTED_PROXIES = [ipaddress.ip_network("10.0.0.0/24")]
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


def test_no_trusted_proxy_means_no_header(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXIES = []
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert client_ip(request) == "10.0.0.1"
