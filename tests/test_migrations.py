"""The migrations say what the models say: a model change without its migration fails here."""

from __future__ import annotations

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_no_model_change_lacks_its_migration():
    # --check exits with a non-zero status when makemigrations would write something.
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
