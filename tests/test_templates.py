"""Templates: nothing meant for developers reaches the page."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from tests.factories import TEST_PASSWORD

TEMPLATES = Path(settings.BASE_DIR) / "templates"


def test_no_comment_tag_spans_lines():
    """Django's {# #} ends at the line's end: a two-line one is printed on the page as text
    (and, in <head>, closes it there). Longer comments use {% comment %}."""
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if re.search(r"\{#(?!.*#\})", line):
                found.append(f"{path.relative_to(TEMPLATES)}:{number}")
    assert found == []


@pytest.mark.django_db
def test_pages_show_no_template_syntax(client, users):
    for page in ("login", "home", "beneficiary_list", "dashboard"):
        if page != "login":
            client.login(username=users["social_worker"].username, password=TEST_PASSWORD)
        body = client.get(reverse(page)).content.decode()
        assert "{#" not in body and "#}" not in body and "{%" not in body, page
        # The head holds only what belongs there: no stray text closes it early.
        head = body.split("<head>", 1)[1].split("</head>", 1)[0]
        text = re.sub(r"<[^>]+>", "", re.sub(r"<title>.*?</title>", "", head, flags=re.S))
        assert text.strip() == "", page
