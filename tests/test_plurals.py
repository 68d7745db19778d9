"""French plurals: « 0 bénéficiaire », never the English rule nor « (s) ».

The catalogue (locale/fr/LC_MESSAGES/django.po, compiled at install) must hold every plural
string of the templates: one missing falls back to Django's English rule (n != 1).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from tests.factories import TEST_PASSWORD

BLOCK = re.compile(
    r"{%\s*blocktranslate\s+count\s+[^%]*%}(?P<one>.*?){%\s*plural\s*%}(?P<many>.*?){%\s*endblocktranslate\s*%}",
    re.S,
)
VARIABLE = re.compile(r"{{\s*(\w+)\s*}}")


def template_plurals() -> list[tuple[str, str]]:
    found = []
    for path in sorted((Path(settings.BASE_DIR) / "templates").rglob("*.html")):
        for match in BLOCK.finditer(path.read_text(encoding="utf-8")):
            one, many = (VARIABLE.sub(r"%(\1)s", match.group(name)) for name in ("one", "many"))
            found.append((one, many))
    return found


def test_every_template_plural_follows_the_french_rule():
    plurals = template_plurals()
    assert len(plurals) > 15
    with translation.override("fr"):
        wrong = [one for one, many in plurals if translation.ngettext(one, many, 0) != one]
        assert wrong == [], "missing from locale/fr (see locale/plural_catalogue.py)"
        assert all(translation.ngettext(one, many, 2) == many for one, many in plurals)


def test_no_template_writes_an_s_in_brackets():
    found = [
        str(path)
        for path in (Path(settings.BASE_DIR) / "templates").rglob("*.html")
        if "(s)" in path.read_text(encoding="utf-8")
    ]
    assert found == []


@pytest.mark.django_db
def test_an_empty_list_says_0_beneficiaire(client, orientation_officer):
    client.login(username=orientation_officer.username, password=TEST_PASSWORD)
    response = client.get(reverse("beneficiary_list"))
    assert (
        '<p id="result-count" class="mb-0" aria-live="polite">0 bénéficiaire</p>' in response.content.decode()
    )
