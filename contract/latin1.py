"""Fitting text into ISO-8859-1, the encoding of the CGPEM file.

The file can never hold a character outside Latin-1: such characters are
transliterated (œ → oe, Ł → L, ’ → ') and every replacement is reported, so
that an officer can see what France Travail received. A character with no
sensible Latin-1 form (an emoji, a Chinese character) cannot be guessed: the
caller leaves the record out.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

# Common characters NFKD does not reduce to Latin-1 (ligatures, stroked
# letters, typographic punctuation pasted from word processors).
_TABLE = {
    "œ": "oe",
    "Œ": "OE",
    "Ł": "L",
    "ł": "l",
    "Đ": "D",
    "đ": "d",
    "ı": "i",
    "ʼ": "'",
    "’": "'",
    "‘": "'",
    "‚": "'",
    "′": "'",
    "“": '"',
    "”": '"',
    "„": '"',
    "–": "-",
    "—": "-",
    "‐": "-",
    "‑": "-",
    "…": "...",
    "€": "EUR",
    "\u202f": " ",
}


# Anything but printable Latin-1 (controls are not allowed in XML either).
UNSAFE = re.compile(r"[^\x20-\x7e\xa0-\xff]")


class NotLatin1(ValueError):
    """A character that no transliteration brings into Latin-1."""

    def __init__(self, character: str):
        super().__init__(character)
        self.character = character


@dataclass
class Fitted:
    text: str
    # original character -> its replacement, in order of first appearance
    replaced: dict[str, str] = field(default_factory=dict)


def _replacement(character: str) -> str | None:
    if character in _TABLE:
        return _TABLE[character]
    decomposed = unicodedata.normalize("NFKD", character)
    base = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    if base and not UNSAFE.search(base):
        return base
    return None


def to_latin1(value: str | None) -> Fitted:
    """`value` with whitespace collapsed, composed (NFC) and every non-Latin-1 character transliterated.

    Raises NotLatin1 for a character with no Latin-1 form.
    """
    text = " ".join((value or "").split())
    if not UNSAFE.search(text):
        return Fitted(text)  # the common case, kept fast for the monthly stock
    # Some sources store "é" decomposed, as "e" + U+0301 (combining acute). It is the same
    # text: composing it first keeps the letters Latin-1 has ("é", not refused for a lone
    # U+0301), and turns the others into one character to transliterate ("ř" → "r").
    # Not a replacement, so not reported.
    text = unicodedata.normalize("NFC", text)
    out = []
    replaced: dict[str, str] = {}
    for character in text:
        if not UNSAFE.match(character):
            out.append(character)
            continue
        if ord(character) < 256:
            raise NotLatin1(character)  # a control character
        replacement = _replacement(character)
        if replacement is None:
            raise NotLatin1(character)
        replaced.setdefault(character, replacement)
        out.append(replacement)
    return Fitted("".join(out), replaced)


# The Latin-1 characters of the `A` format (str.isalpha is the XSD's \\p{L}).
NAME_CHARACTERS = "".join(ch for ch in map(chr, range(256)) if ch.isalpha()) + " -'"


def is_name(text: str) -> bool:
    """The file's `A` format: letters (accented ones too), space, hyphen and apostrophe."""
    return all(ch.isalpha() or ch in " -'" for ch in text)


def to_name(value: str | None) -> Fitted:
    """`value` fitted to the `A` format: transliterated, and any other character made a space.

    The CGPEM's names are matched by France Travail after the NIR and the identifier: a
    comma, a digit or a character with no Latin-1 form (« Jean2 », « Dupont, Marie », « 李 »)
    becomes a space rather than leaving the whole decision out. Each replacement is
    reported, the spaces collapsed.
    """
    text = " ".join((value or "").split())
    if is_name(text) and not UNSAFE.search(text):
        return Fitted(text)
    text = unicodedata.normalize("NFC", text)
    out = []
    replaced: dict[str, str] = {}
    for character in text:
        if character.isalpha() and not UNSAFE.match(character) or character in " -'":
            out.append(character)
            continue
        replacement = _replacement(character) if ord(character) >= 256 else None
        if replacement is None or not is_name(replacement):
            replacement = " "
        replaced.setdefault(character, replacement)
        out.append(replacement)
    return Fitted(" ".join("".join(out).split()), replaced)
