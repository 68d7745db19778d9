"""French plurals: « 0 bénéficiaire », never the English rule nor « (s) ».

The catalogue (locale/fr/LC_MESSAGES/django.po, compiled at install) must hold every plural
string of the templates and of the code (`ngettext`): one missing falls back to Django's
English rule (n != 1).
"""

from __future__ import annotations

import ast
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


APPS = ("accounts", "audit", "beneficiaries", "caseloads", "contract", "exchanges", "intake")
APPS += ("orientations", "pages", "rights", "config")


def code_plurals() -> list[tuple[str, str]]:
    """The literal (singular, plural) pairs of every `ngettext` call of the apps."""
    found = []
    for app in APPS:
        for path in sorted((Path(settings.BASE_DIR) / app).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call) or len(node.args) < 2:
                    continue
                name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                one, many = node.args[:2]
                if (
                    name.startswith("ngettext")
                    and isinstance(one, ast.Constant)
                    and isinstance(many, ast.Constant)
                ):
                    found.append((one.value, many.value))
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


def app_python_files() -> list[Path]:
    """The apps' modules (and config), where every user-facing string is written: not the tests."""
    base = Path(settings.BASE_DIR)
    packages = [path.parent for path in base.glob("*/apps.py")] + [base / "config"]
    return sorted(path for package in packages for path in package.rglob("*.py"))


# « décision(s) », « Fichier(s) »: a word with an « (s) » glued to it (not a "%(s)s" placeholder).
S_IN_BRACKETS = re.compile(r"\w\(s\)")


def test_no_app_string_writes_an_s_in_brackets():
    import ast

    files = app_python_files()
    assert len(files) > 100 and any(path.parts[-2:] == ("exchanges", "runs.py") for path in files)
    found = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and S_IN_BRACKETS.search(node.value)
            ):
                found.append(f"{path.relative_to(settings.BASE_DIR)}:{node.lineno}")
    assert found == [], "write both forms with ngettext (locale/plural_catalogue.py)"


@pytest.mark.parametrize("module", ["exchanges/runs.py", "exchanges/transfers.py", "accounts/admin.py"])
def test_every_ngettext_of_the_apps_is_in_the_catalogue(module):
    import ast

    source = (Path(settings.BASE_DIR) / module).read_text(encoding="utf-8")
    pairs = [
        (call.args[0].value, call.args[1].value)
        for call in ast.walk(ast.parse(source))
        if isinstance(call, ast.Call)
        and getattr(call.func, "id", None) == "ngettext"
        and all(isinstance(arg, ast.Constant) for arg in call.args[:2])
    ]
    assert pairs
    with translation.override("fr"):
        assert [one for one, many in pairs if translation.ngettext(one, many, 0) != one] == []


def test_every_code_plural_follows_the_french_rule():
    plurals = code_plurals()
    assert len(plurals) > 15
    with translation.override("fr"):
        wrong = [one for one, many in plurals if translation.ngettext(one, many, 0) != one]
        assert wrong == [], "missing from locale/fr (see locale/plural_catalogue.py)"
