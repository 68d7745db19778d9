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
compacted first so that it matches as one word.
"""

from __future__ import annotations

import re

from django.db.models import Q, QuerySet

from beneficiaries.names import fold

# Letters and digits with at least one digit: a NIR, a CAF/MSA number or an FT identifier.
_IDENTIFIER = re.compile(r"^(?=.*\d)[0-9A-Z]{5,15}$")
# At most this many follow-ups can share an FT identifier (one per institution): a safety cap.
_FT_MATCHES = 50


def search_terms(query: str) -> list[str]:
    """The folded words of a query; a spaced-out identifier (all digits, 2A/2B) becomes one word."""
    folded = fold(query)
    compact = folded.replace(" ", "")
    if (
        " " in folded
        and _IDENTIFIER.match(compact)
        and sum(ch.isdigit() for ch in compact) >= len(compact) - 2
    ):
        return [compact]
    return folded.split()


def ft_identifier_matches(term: str) -> list[int]:
    """Beneficiary ids whose current follow-up carries this France Travail identifier."""
    from exchanges.models import FollowUp

    if not _IDENTIFIER.match(term) or len(term) > 11:
        return []
    return list(
        FollowUp.objects.filter(ft_identifier=term).values_list("beneficiary_id", flat=True)[:_FT_MATCHES]
    )


def apply_search(queryset: QuerySet, query: str) -> QuerySet:
    for term in search_terms(query):
        condition = Q(search_text__contains=term)
        ids = ft_identifier_matches(term)
        if ids:
            condition |= Q(pk__in=ids)
        queryset = queryset.filter(condition)
    return queryset
