"""INSEE commune codes, as territories hold them; the list of territories the filters offer."""

from __future__ import annotations

import re

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# Five characters: two digits of département (or 2A/2B for Corsica) then three.
INSEE_COMMUNE = re.compile(r"^(\d{5}|2[AB]\d{3})$")


def is_commune_code(value: str) -> bool:
    return bool(INSEE_COMMUNE.match(value.strip().upper()))


def parse_commune_codes(text: str) -> list[str]:
    """Codes separated by spaces, commas, semicolons or new lines; sorted, no duplicates."""
    codes = [part.upper() for part in re.split(r"[\s,;]+", text or "") if part]
    wrong = [code for code in codes if not INSEE_COMMUNE.match(code)]
    if wrong:
        raise ValidationError(
            _("Codes INSEE de commune invalides : %(codes)s (5 caractères, par exemple 82121 ou 2A004)."),
            params={"codes": ", ".join(wrong[:10])},
        )
    return sorted(set(codes))


# Every list page offers the territories as a filter; they change a few times a year.
CHOICES_KEY = "accounts:territory-choices"


def all_territory_choices() -> list[tuple[str, str]]:
    """Every territory as (pk, name), by name; cached until one is saved or deleted (accounts.signals)."""
    from accounts.models import Territory  # noqa: PLC0415  (accounts.models imports this module)

    return cache.get_or_set(CHOICES_KEY, lambda: [(str(t.pk), t.name) for t in Territory.objects.all()], None)


def forget_territory_choices() -> None:
    cache.delete(CHOICES_KEY)
