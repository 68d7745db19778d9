"""Communes by name: the INSEE code officiel géographique of the Département, shipped as data.

The names come from Etalab's `@etalab/decoupage-administratif` npm package (MIT licence; public
data, nothing personal), which carries the code officiel géographique as JSON, with the commune
changes: the communes déléguées and associées of a commune nouvelle keep their own code and name,
and the codes of the communes merged without one (`anciensCodes`). The project ships only what its
Département needs, `beneficiaries/data/communes.json`, written by

    .venv/bin/python manage.py commune_names decoupage-administratif-6.0.0.tgz

from the package's tarball (`npm pack @etalab/decoupage-administratif@6.0.0`), whose SHA-512 is
checked first (docs/pages.md, « Noms des communes »).

A code the file does not know (another Département's, a new commune) is shown as it is: the
code, never a guess.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import json
import tarfile
from collections.abc import Iterable
from pathlib import Path

from django.conf import settings

DATA_FILE = Path(__file__).parent / "data" / "communes.json"
PACKAGE = "@etalab/decoupage-administratif"
# What `npm view @etalab/decoupage-administratif@6.0.0 dist.integrity` says of the tarball.
KNOWN_TARBALLS = {
    "6.0.0": (
        "sha512-XavYsFlbcM/prKr8hNHPKER94IHw/dsxNM4nxjWMYk6PLFACpEedvn/7wK8Baozm0dCYhWWcf+7bcWpA5pmCaQ=="
    ),
}
MEMBER = "package/data/communes.json"
# Its entries by `type`: the current communes first, so that a commune déléguée that kept the
# code of its commune nouvelle (the chef-lieu) does not take the new commune's name.
CURRENT = "commune-actuelle"
FORMER_WITH_A_NAME = ("commune-deleguee", "commune-associee", "arrondissement-municipal")


class CommuneDataError(Exception):
    """The tarball is not the one expected, or holds no communes.json that can be read."""


def integrity(data: bytes) -> str:
    """The npm registry's `dist.integrity` of a tarball: "sha512-" and its digest in base 64."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")


def read_tarball(path: Path, expected_integrity: str) -> tuple[str, list[dict]]:
    """The package's version and the entries of its communes.json, once the SHA-512 matches.

    Only that member is read, from memory: nothing of the archive is extracted to the disk.
    """
    data = path.read_bytes()
    found = integrity(data)
    if found != expected_integrity:
        raise CommuneDataError(
            f"{path.name} : empreinte SHA-512 inattendue ({found}, attendu {expected_integrity}). "
            "Téléchargez l'archive du registre npm (npm pack) et vérifiez sa version."
        )
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            manifest = json.load(archive.extractfile("package/package.json"))
            member = archive.extractfile(MEMBER)
            entries = json.load(member) if member is not None else None
    except (tarfile.TarError, KeyError, OSError, ValueError) as exc:
        raise CommuneDataError(f"{path.name} : {MEMBER} illisible ({exc}).") from None
    if manifest.get("name") != PACKAGE or not isinstance(entries, list):
        raise CommuneDataError(f"{path.name} : ce n'est pas l'archive du paquet {PACKAGE}.")
    return str(manifest.get("version", "")), entries


def _in_departement(code: str, departement: str) -> bool:
    return code[: len(departement)] == departement


def names_for(entries: Iterable[dict], departement: str) -> dict[str, str]:
    """code → name of the Département's communes, those of today and those that changed.

    - the current communes (and Paris, Lyon, Marseille's arrondissements);
    - the communes déléguées and associées under their own code and name;
    - a code merged into a commune nouvelle without keeping a name of its own (`anciensCodes`):
      the name of the commune it belongs to now.
    """
    entries = list(entries)
    names: dict[str, str] = {}
    for entry in entries:
        if entry.get("type") == CURRENT and entry.get("departement") == departement:
            names[entry["code"]] = entry["nom"]
    for entry in entries:
        if entry.get("type") in FORMER_WITH_A_NAME and entry.get("departement") == departement:
            names.setdefault(entry["code"], entry["nom"])
    for entry in entries:
        if entry.get("type") != CURRENT:
            continue
        for old in entry.get("anciensCodes") or ():
            if entry.get("departement") == departement or _in_departement(old, departement):
                names.setdefault(old, entry["nom"])
    return dict(sorted(names.items()))


def write_data_file(names: dict[str, str], departement: str, version: str, checked: str, path: Path) -> None:
    content = {
        "source": f"{PACKAGE} {version}",
        "sha512": checked,
        "departement": departement,
        "communes": names,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


@functools.lru_cache(maxsize=2)
def _load(departement: str, path: Path = DATA_FILE) -> dict[str, str]:
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    # Another Département's file would name this one's codes wrongly: codes rather than that.
    if content.get("departement") != departement:
        return {}
    return content.get("communes", {})


def data_departement(path: Path = DATA_FILE) -> str | None:
    """The Département the shipped file is for (None when it cannot be read)."""
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("departement")
    except (OSError, ValueError):
        return None


def commune_name(code: str | None) -> str:
    """The commune's name, "" when the code is empty or not in the Département's file."""
    return _load(settings.DEPARTEMENT).get(code or "", "")


def departement_communes() -> dict[str, str]:
    """code → name of every commune of the Département's file (empty for another Département's)."""
    return _load(settings.DEPARTEMENT)


@functools.lru_cache(maxsize=2)
def _codes_by_folded_name(departement: str) -> dict[str, str | None]:
    from beneficiaries.names import fold  # noqa: PLC0415 (names imports nothing of this module)

    found: dict[str, str | None] = {}
    for code, name in _load(departement).items():
        key = fold(name)
        # Two codes of one name (a commune déléguée named like its commune nouvelle): ambiguous.
        found[key] = code if key not in found or found[key] == code else None
    return found


def code_of(name: str) -> str | None:
    """The code of a commune of the Département typed by its name (accents and case aside)."""
    from beneficiaries.names import fold  # noqa: PLC0415

    return _codes_by_folded_name(settings.DEPARTEMENT).get(fold(name))


def commune_label(code: str | None) -> str:
    """« Montauban (82121) »; the code alone when its name is not known; "" without a code."""
    if not code:
        return ""
    name = commune_name(code)
    return f"{name} ({code})" if name else code
