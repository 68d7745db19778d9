"""The département's code as the files, their names and the exchange server's folders spell it.

Both ways, once: `departement_on_three` pads a code to the three characters of a
file's DEPARTEMENT elements, of a file name (`CGPEM_082_20250131_M.xml`) and of
a folder on the server (`/082/PECGM/`); `config.env.departement_code` reads one back
without its padding, the way the settings hold it (`082` → `82`), and is the one rule of
what a département code is (the setting is read with it, below every app).
"""

from __future__ import annotations


def departement_on_three(value: str) -> str:
    """`82` → `082`, `2A` → `02A`, `971` unchanged: the files' (and file names') spelling."""
    return str(value).strip().upper().rjust(3, "0")
