"""Name folding for matching people across files.

`ÉLOÏSE`, `Eloise`, `d'Artagnan` and `D ARTAGNAN  ` must meet: accents, case,
hyphens, apostrophes, padding and ligatures are all folded away.
"""

from __future__ import annotations

import unicodedata

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
