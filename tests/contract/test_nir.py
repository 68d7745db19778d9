"""The NIR as the files carry it: its check, its key, its comparison key."""

import pytest

from contract.nir import InvalidNIR, clean_nir, is_nir_key, nir_key


@pytest.mark.parametrize(
    "value",
    [
        "185078218682285",  # 15 characters, right key
        "1850782186822",  # 13 characters
        "2 65 04 82 079 780",  # spaces are dropped
    ],
)
def test_valid_nirs(value):
    assert len(clean_nir(value)) in (13, 15)


def test_corsica_key_is_checked():
    from stdnum.fr import nir

    body = "185072A012345"
    good = body + nir.calc_check_digits(body)
    assert clean_nir(good) == good
    bad = body + f"{(int(nir.calc_check_digits(body)) + 1) % 97:02d}"
    with pytest.raises(InvalidNIR, match="clé"):
        clean_nir(bad)


@pytest.mark.parametrize(
    "value, message",
    [
        ("", "vide"),
        ("18507821868", "13 ou 15"),
        ("985078218682285", "format"),
        ("185078218682286", "clé"),
        ("18507821868ZZ", "format"),
        ("1８５０７８２１８６８２２", "format"),  # fullwidth digits are Unicode digits, not NIR digits
    ],
)
def test_invalid_nirs(value, message):
    with pytest.raises(InvalidNIR, match=message):
        clean_nir(value)


def test_is_nir_key_wants_the_13_first_characters_well_formed():
    assert is_nir_key("1850782186822")
    assert is_nir_key("185072A186822")  # Corsica
    assert not is_nir_key("185078218682285")  # with its key: 15 characters
    assert not is_nir_key("ZZ99")
    assert not is_nir_key("9850782186822")


def test_nir_key():
    assert nir_key("185078218682285") == "1850782186822"
    assert nir_key(" 1850782186822 ") == "1850782186822"
    assert nir_key(None) == ""
