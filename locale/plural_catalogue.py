"""Keep locale/fr/LC_MESSAGES/django.po to what it is for: French plural forms.

The project's strings are written in French, so the catalogue translates nothing; but without
it Django picks the plural form by the English rule (n != 1) and writes « 0 bénéficiaires ».
Each plural entry gets its own forms back, under French's rule (n > 1: « 0 bénéficiaire »).

After adding a plural string (`{% blocktranslate count %}`, `ngettext`):

    .venv/bin/python manage.py makemessages -l fr --no-obsolete --ignore=.venv --ignore=static --ignore=bench
    .venv/bin/python locale/plural_catalogue.py

The .mo is compiled at install time (`make venv`, the Dockerfile) with Babel, not committed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

PO = Path(__file__).parent / "fr" / "LC_MESSAGES" / "django.po"


def main() -> int:
    with PO.open("rb") as handle:
        catalog = read_po(handle, locale="fr")
    # A fuzzy header would keep Babel from compiling the catalogue.
    catalog.fuzzy = False
    catalog.project, catalog.version = "Liaison RSA", "1"
    for message in list(catalog):
        if not message.id:
            continue
        if message.pluralizable:
            message.string = tuple(message.id)
            message.flags.discard("fuzzy")
        else:
            catalog.delete(message.id, message.context)
    with PO.open("wb") as handle:
        write_po(handle, catalog, width=110, omit_header=False, sort_output=True, include_lineno=False)
    print(f"{PO}: {sum(1 for m in catalog if m.id)} plural entries")
    return 0


if __name__ == "__main__":
    sys.exit(main())
