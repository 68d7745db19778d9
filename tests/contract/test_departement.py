"""The département's spelling in files, file names and the server's folders, written once."""

import pytest

from config.env import departement_code
from contract.departement import departement_on_three


@pytest.mark.parametrize(
    ("value", "expected"), [("82", "082"), ("082", "082"), ("2A", "02A"), ("971", "971")]
)
def test_departement_on_three(value, expected):
    assert departement_on_three(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("082", "82"), ("82", "82"), ("02a", "2A"), (" 2B ", "2B"), ("971", "971"), ("01", "01")],
)
def test_departement_code(value, expected):
    assert departement_code(value) == expected


@pytest.mark.parametrize(
    "value", [None, "", "0", "00", "20", "020", "96", "99", "977", "2C", "0820", "８２", "8٢"]
)
def test_departement_code_refuses_what_is_not_a_code(value):
    assert departement_code(value) is None


@pytest.mark.parametrize("code", ["01", "82", "2A", "2B", "95", "971", "976"])
def test_padding_and_normalising_are_inverse(code):
    assert departement_code(departement_on_three(code)) == code
