import pytest

from beneficiaries.names import fold, name_key
from beneficiaries.nir import mask_nir


def test_mask_nir():
    assert mask_nir("1850782186822") == "18507••••••••"


@pytest.mark.parametrize(
    "a, b",
    [
        ("Éloïse", "ELOISE"),
        ("d'Artagnan", "D ARTAGNAN"),
        ("  Jean-Pierre ", "jean pierre"),
        ("Cœur", "COEUR"),
        ("Lætitia", "laetitia"),
        ("D’Artagnan", "dartagnan"),
    ],
)
def test_names_fold_to_the_same_key(a, b):
    assert name_key(a) == name_key(b)


def test_fold_keeps_word_boundaries():
    assert fold("Da Costa-Lopès") == "DA COSTA LOPES"
