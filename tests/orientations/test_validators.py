"""The reference data's field validators: what the CGPEM file can carry, refused in French otherwise."""

import pytest
from django.core.exceptions import ValidationError

from orientations.validators import validate_latin1, validate_name


@pytest.mark.parametrize("validator", [validate_name, validate_latin1])
def test_a_character_with_no_latin1_form_is_refused_naming_it(validator):
    with pytest.raises(ValidationError) as error:
        validator("Zoé 漢")
    assert error.value.code == "latin1"
    assert error.value.messages == ["Le caractère « 漢 » ne peut pas être transmis à France Travail."]


def test_a_name_is_letters_spaces_hyphens_and_apostrophes_after_transliteration():
    validate_name("Łukasz N’Diaye-Œuvray")  # transliterated, then a name
    validate_latin1("Service n°2")
    with pytest.raises(ValidationError) as error:
        validate_name("Service n°2")
    assert error.value.code == "name"
