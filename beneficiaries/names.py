"""Name folding for matching people across files.

`ÉLOÏSE`, `Eloise`, `d'Artagnan` and `D ARTAGNAN  ` must meet: accents, case,
hyphens, apostrophes, padding and ligatures are all folded away.
"""

from __future__ import annotations

import unicodedata

from django.utils.translation import gettext as _

_LIGATURES = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss"})


def fold(value: str | None) -> str:
    """Upper-case ASCII letters and single spaces: for display-independent searching."""
    if not value:
        return ""
    text = unicodedata.normalize("NFKD", value.translate(_LIGATURES))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = "".join(ch if ch.isalnum() else " " for ch in text.upper())
    return " ".join(text.split())


def name_key(value: str | None) -> str:
    """The matching key of a name: folded, with every separator removed."""
    return fold(value).replace(" ", "")


def display_name(birth_name: str, usage_name: str, first_name: str) -> str:
    """How pages name a person: usage name first, the birth name beside it when it differs."""
    name = usage_name or birth_name
    suffix = f" ({_('naissance')} : {birth_name})" if usage_name and usage_name != birth_name else ""
    return f"{name.upper()} {first_name}{suffix}"
