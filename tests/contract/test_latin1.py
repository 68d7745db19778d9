import pytest

from contract.latin1 import NotLatin1, is_name, to_latin1


@pytest.mark.parametrize(
    ("value", "expected", "replaced"),
    [
        ("Cœur", "Coeur", {"œ": "oe"}),
        ("ŒDIPE", "OEDIPE", {"Œ": "OE"}),
        ("Łukasz", "Lukasz", {"Ł": "L"}),
        ("Michał", "Michal", {"ł": "l"}),
        ("D’Artagnan", "D'Artagnan", {"’": "'"}),
        ("Şahin", "Sahin", {"Ş": "S"}),
        ("Ayşe", "Ayse", {"ş": "s"}),
        ("Dvořák", "Dvorák", {"ř": "r"}),
    ],
)
def test_non_latin1_letters_are_transliterated_and_reported(value, expected, replaced):
    fitted = to_latin1(value)
    assert fitted.text == expected
    assert fitted.replaced == replaced
    fitted.text.encode("iso-8859-1")


def test_latin1_accents_are_kept_untouched():
    fitted = to_latin1("Éloïse Müller-Çelik")
    assert fitted.text == "Éloïse Müller-Çelik"
    assert fitted.replaced == {}


@pytest.mark.parametrize(
    ("decomposed", "composed"),
    [
        ("Zoe\u0301", "Zoé"),  # e + combining acute
        ("E\u0301loi\u0308se", "Éloïse"),  # combining acute and diaeresis
        ("Franc\u0327ois", "François"),  # combining cedilla
    ],
)
def test_decomposed_letters_that_latin1_has_are_composed_and_kept(decomposed, composed):
    # Same text in Unicode's eyes: nothing is replaced, nothing to report.
    fitted = to_latin1(decomposed)
    assert fitted.text == composed
    assert fitted.replaced == {}


def test_decomposed_letters_outside_latin1_are_transliterated_as_their_composed_form():
    fitted = to_latin1("Dvor\u030ca\u0301k")  # ř and á, both decomposed
    assert fitted.text == "Dvorák"
    assert fitted.replaced == {"ř": "r"}


def test_whitespace_is_collapsed():
    assert to_latin1("  Jean \t Pierre ").text == "Jean Pierre"


@pytest.mark.parametrize("value", ["李", "🙂", "a\x01b"])
def test_characters_without_a_latin1_form_are_refused(value):
    with pytest.raises(NotLatin1):
        to_latin1(value)


def test_name_format_accepts_letters_space_hyphen_apostrophe_only():
    assert is_name("Jean-Pierre D'Artagnan Éloïse")
    assert not is_name("Jean2")
    assert not is_name("Jean.Pierre")
