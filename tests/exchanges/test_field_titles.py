"""The pages' titles of PECGM values come from the layout when they render, not from the models:
rewording one makes no migration (it made one of 80 AlterField, exchanges 0010)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from contract.layouts import PECGM
from exchanges.models import FollowUp, JobSeekerSnapshot, pecgm_attrs

ROOT = Path(__file__).resolve().parents[2]

# Every title reworded in the layout before Django loads the models, then makemigrations asked.
REWORDED = """
import sys
from types import MappingProxyType
import django
from django.utils.text import format_lazy
import contract.layouts as layouts
titles = {attr: format_lazy("{} (reformulé)", title) for attr, title in layouts.PECGM_TITLES.items()}
layouts.PECGM_TITLES = MappingProxyType(titles)
django.setup()
from django.core.management import call_command
from exchanges.models import FollowUp
assert "(reformulé)" not in str(FollowUp._meta.get_field("first_name").verbose_name)
call_command("makemigrations", "--check", "--dry-run", verbosity=1)
print("no migration")
"""


def test_rewording_a_title_in_the_layout_makes_no_migration(tmp_path):
    environment = {
        **{key: value for key, value in os.environ.items() if key not in ("APP_MODE", "DATABASE_URL")},
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATA_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-c", REWORDED], cwd=ROOT, env=environment, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no migration" in result.stdout


def test_the_columns_are_named_by_their_tag():
    tags = {attr: "/".join(path) for path, _item, attr in PECGM.detail.flat_fields()}
    for model in (JobSeekerSnapshot, FollowUp):
        for attr in pecgm_attrs():
            assert model._meta.get_field(attr).verbose_name == tags[attr]
    assert FollowUp._meta.get_field("main_structure_name").verbose_name == "STRUCTURE_PRINCIPALE_SUIVI/NOM"
