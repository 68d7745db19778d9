"""The NIR (numéro d'inscription au répertoire, "numéro de sécurité sociale").

Files from France Travail carry the 13 first characters; the Département's
tool may hold the 15 with the 2-digit key. Records are compared on the first
13 characters. Corsica writes `2A`/`2B` at positions 6-7.

Part of the contract: the layouts check the NIR of a record with it, and the
apps (beneficiaries, matching, CGPEM, rights) compact and compare with the same
rule. How a NIR is shown on screen is the pages' business (beneficiaries.nir).
"""

from __future__ import annotations

import re

from stdnum.exceptions import ValidationError as StdnumError
from stdnum.fr import nir as stdnum_nir

# sex (1, 2; 3, 4, 7, 8 for provisional numbers), year, month, département
# (two digits or 2A/2B), commune, order, then the optional key.
# ASCII: for a str pattern \d is any Unicode digit ("١", "１"), which no NIR holds.
_NIR = re.compile(r"^[1-478]\d{2}\d{2}(\d{2}|2[AB])\d{3}\d{3}(\d{2})?$", re.ASCII)


class InvalidNIR(ValueError):
    pass


def clean_nir(value: str) -> str:
    """Return the NIR compacted (no spaces, upper case) or raise InvalidNIR with a French message."""
    compact = re.sub(r"[\s.\-]", "", value or "").upper()
    if not compact:
        raise InvalidNIR("NIR vide")
    if len(compact) not in (13, 15):
        raise InvalidNIR(f"le NIR doit avoir 13 ou 15 caractères, pas {len(compact)}")
    if not _NIR.match(compact):
        raise InvalidNIR("le NIR n'a pas le format attendu (sexe, année, mois, département…)")
    if len(compact) == 15:
        try:
            stdnum_nir.validate(compact)
        except StdnumError:
            raise InvalidNIR("la clé du NIR est fausse") from None
    return compact


def is_nir_key(value: str) -> bool:
    """A well-formed NIR's 13 first characters, compact, as the exchange files carry it."""
    return len(value) == 13 and _NIR.match(value) is not None


def nir_key(value: str | None) -> str:
    """The comparison key: the first 13 characters, or '' when there is no NIR."""
    if value and value.isalnum():
        # Nothing to take out (the usual case: an import asks for every record's key).
        return value.upper()[:13]
    compact = re.sub(r"[\s.\-]", "", value or "").upper()
    return compact[:13]
