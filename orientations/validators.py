"""Checks that make recorded data fit the CGPEM file (annexe 3 lengths and formats).

Validating at entry keeps the file's exclusions rare: what cannot be sent is
refused here, in French, next to the field, when the officer can still fix it.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from contract.latin1 import Fitted, NotLatin1, is_name, to_latin1
from contract.layouts import CGPEM

REFERENT_BODY_MAX = CGPEM.detail.field("ORGANISME_REFERENT").length


def clean_phone(value: str | None) -> str:
    """The phone as the file wants it: spaces and dots removed."""
    return re.sub(r"[ .]", "", value or "")


def validate_phone(value: str) -> None:
    compact = clean_phone(value)
    if compact and not re.fullmatch(r"\d{10}", compact):
        raise ValidationError(
            _("Le numéro de téléphone doit compter 10 chiffres (espaces et points acceptés)."),
            code="phone",
        )


def validate_name(value: str) -> None:
    """Letters (accented ones too), space, hyphen, apostrophe: the file's `A` format."""
    if not is_name(_fitted_latin1(value).text):
        raise ValidationError(
            _("Seuls les lettres, espaces, tirets et apostrophes sont acceptés."), code="name"
        )


def validate_latin1(value: str) -> None:
    _fitted_latin1(value)


def _fitted_latin1(value: str) -> Fitted:
    """The value as the CGPEM file carries it, or the French error naming the character it cannot."""
    try:
        return to_latin1(value)
    except NotLatin1 as exc:
        raise ValidationError(
            _("Le caractère « %(char)s » ne peut pas être transmis à France Travail."),
            params={"char": exc.character},
            code="latin1",
        ) from None


def referent_body_text(name: str, address: str) -> str:
    """Name and address as one line, as the file's ORGANISME_REFERENT holds them."""
    return " ".join(part for part in (name.strip(), address.strip()) if part)


def validate_referent_body(name: str, address: str) -> None:
    text = referent_body_text(name, address)
    try:
        length = len(to_latin1(text).text)
    except NotLatin1:
        return  # reported on the field itself
    if length > REFERENT_BODY_MAX:
        raise ValidationError(
            _(
                "Le nom et l'adresse ensemble dépassent %(max)s caractères (%(length)s) : "
                "France Travail ne pourrait pas les recevoir."
            ),
            params={"max": REFERENT_BODY_MAX, "length": length},
            code="too_long",
        )
