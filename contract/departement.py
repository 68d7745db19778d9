"""The département's code as the files, their names and the exchange server's folders spell it.

Both ways, once: `departement_on_three` pads a code to the three characters of a
file's DEPARTEMENT elements, of a file name (`CGPEM_082_20250131_M.xml`) and of
a folder on the server (`/082/PECGM/`); `normalise_departement` reads one back
without its padding, the way the settings hold it (`082` → `82`).
"""

from __future__ import annotations

import re

_DEPARTEMENT = re.compile(r"^(0?(?:0[1-9]|[1-8]\d|9[0-5]|2[AB])|97[1-6])$")


def departement_on_three(value: str) -> str:
    """`82` → `082`, `2A` → `02A`, `971` unchanged: the files' (and file names') spelling."""
    return str(value).strip().upper().rjust(3, "0")


def normalise_departement(value: str | None) -> str | None:
    """`082` → `82`, `02a` → `2A`, `971` → `971`; None when it is not a département code."""
    text = (value or "").strip().upper()
    if not _DEPARTEMENT.match(text):
        return None
    return text[1:] if len(text) == 3 and text.startswith("0") else text
