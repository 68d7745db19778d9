"""The one search box: names, first name, NIR, CAF/MSA number, France Travail identifier.

`Beneficiary.search_text` holds the folded names and identifiers (upper-case
ASCII, see `beneficiaries.names.fold`); the query is folded the same way and
every word must appear in it, so `éloïse dupont`, `DUPONT Eloise` and
`dupont` all find Éloïse Dupont. On PostgreSQL a pg_trgm GIN index serves
these `LIKE '%…%'` lookups (migration 0002).

The France Travail identifier lives on the follow-up, which the import
rewrites in bulk: rather than copying it into `search_text`, a word that looks
like an identifier is also looked up in the follow-ups' identifier index, and
the ids found are OR-ed in. A NIR typed with spaces (`1 85 05 82 121 …`) is
compacted first so that it matches as one word; typed with its key (15
characters, as on a carte Vitale or a letter), the key is dropped: people are
found by the 13 first characters (contract.nir). A birth date typed
JJ/MM/AAAA (or with dashes or dots) looks up the birth date; the other words
are names, in any order (« Dupont Éloïse » or « Éloïse Dupont »).
"""

from __future__ import annotations

import re
from datetime import date

from django.db.models import Q, QuerySet

from beneficiaries.models import Beneficiary
from beneficiaries.names import fold
from contract.nir import is_nir_key

# Letters and digits with at least one digit: a NIR, a CAF/MSA number or an FT identifier.
_IDENTIFIER = re.compile(r"^(?=.*\d)[0-9A-Z]{5,15}$")
# At most this many follow-ups can share an FT identifier (one per institution): a safety cap.
_FT_MATCHES = 50
# A birth date as typed: 5/3/1985, 05/03/1985, 05-03-1985, 05.03.1985.
_DAY = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")


def _birth_date(word: str) -> date | None:
    found = _DAY.match(word)
    if not found:
        return None
    day, month, year = (int(part) for part in found.groups())
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _without_key(term: str) -> str:
    """A NIR typed with its 2-digit key: its 13 first characters, as `search_text` holds it."""
    if len(term) == 15 and term[13:].isdigit() and is_nir_key(term[:13]):
        return term[:13]
    return term


def split_query(query: str) -> tuple[list[str], list[date]]:
    """(folded words, birth dates) of a query: the dates are taken out before folding."""
    dates, rest = [], []
    for word in query.split():
        day = _birth_date(word)
        if day is not None:
            dates.append(day)
        else:
            rest.append(word)
    return search_terms(" ".join(rest)), dates


def search_terms(query: str) -> list[str]:
    """The folded words of a query; a spaced-out identifier (all digits, 2A/2B) becomes one word."""
    folded = fold(query)
    compact = folded.replace(" ", "")
    if (
        " " in folded
        and _IDENTIFIER.match(compact)
        and sum(ch.isdigit() for ch in compact) >= len(compact) - 2
    ):
        return [_without_key(compact)]
    return [_without_key(word) for word in folded.split()]


def ft_identifier_matches(term: str) -> list[int]:
    """Beneficiary ids whose current follow-up carries this France Travail identifier."""
    # The follow-up's model through its relation's name: exchanges sits above this module.
    followup = Beneficiary._meta.get_field("followup").related_model
    if not _IDENTIFIER.match(term) or len(term) > 11:
        return []
    return list(
        followup.objects.filter(ft_identifier=term).values_list("beneficiary_id", flat=True)[:_FT_MATCHES]
    )


def apply_search(queryset: QuerySet, query: str) -> QuerySet:
    terms, dates = split_query(query)
    for day in dates:
        queryset = queryset.filter(birth_date=day)
    if _DAY.match(query.strip()) and not dates:  # a date that does not exist: nobody
        return queryset.none()
    for term in terms:
        condition = Q(search_text__contains=term)
        ids = ft_identifier_matches(term)
        if ids:
            condition |= Q(pk__in=ids)
        queryset = queryset.filter(condition)
    return queryset
