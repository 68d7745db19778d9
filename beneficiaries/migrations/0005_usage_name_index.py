"""The usage name's index comes back: the import's matching looks people up by it.

0004 dropped `(usage_name_key, first_name_key, birth_date)` because no page used it (no scan
on the pages' bench database, whose monthly files only held people known by their NIR). The
import's rule 4 does: a record whose NIR, France Travail identifier and CAF/MSA numbers find
nobody is looked up by either name with the first name and the birth date. Without this
index, PostgreSQL walked the whole name-order index for each of them: a first import of
150 000 records, a tenth of them unknown, took 142 s instead of 14.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("beneficiaries", "0004_name_order_index"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="beneficiary",
            index=models.Index(
                fields=["usage_name_key", "first_name_key", "birth_date"], name="beneficiary_usage_name"
            ),
        ),
    ]
