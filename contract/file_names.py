"""What a PECGM file's name promises, checked against what the file holds and against the calendar.

The exchange server names a file `PECGM_<DEP>_<YYYYMMDD>_<M|H|Q>.xml`; the
fetch trusts that name to order files and to skip what was done. A file
whose header says otherwise (a daily-flux name holding a monthly stock would
then flag everyone absent) is refused, and so is a name dated before the
server's retention or in the future (a hostile server listing 300 fluxes of
the year 2000).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from django.utils.translation import gettext as _

from config.env import departement_code

# The names the contract allows in both folders of the exchange server (docs/formats.md,
# « Le serveur d'échange »): the client lists only these, the stand-in server serves only these.
FILE_NAME = re.compile(
    r"^(?P<kind>PECGM|CGPEM)_(?P<dep>[0-9]{2}[0-9AB])_(?P<date>[0-9]{8})_(?P<period>[MHQ])\.xml\Z"
)

# A flux may be named after the end of its month (docs/formats): a few days ahead at most.
MAX_NAME_AHEAD = timedelta(days=3)

_PERIODICITY_LABELS = {"M": "mensuel (stock)", "H": "hebdomadaire", "Q": "quotidien (flux)"}


def name_date(name: str) -> date | None:
    """The reference date a PECGM name carries, or None for another name (or an impossible date)."""
    match = FILE_NAME.match(name)
    if not match:
        return None
    try:
        return datetime.strptime(match["date"], "%Y%m%d").date()
    except ValueError:
        return None


def name_mismatch(name: str, departement: str, reference_date: date, periodicity: str) -> str | None:
    """A French message when a header disagrees with the file's name; None if they agree.

    A name that is not a contract name (a file imported by hand) promises nothing.
    """
    match = FILE_NAME.match(name)
    if not match:
        return None
    differences = []
    if departement_code(match["dep"]) != departement:
        differences.append(
            _("département %(header)s dans l'en-tête, %(name)s dans le nom")
            % {"header": departement, "name": match["dep"]}
        )
    if match["date"] != reference_date.strftime("%Y%m%d"):
        differences.append(
            _("date de référence %(header)s dans l'en-tête, %(name)s dans le nom")
            % {"header": reference_date.strftime("%d/%m/%Y"), "name": match["date"]}
        )
    if match["period"] != periodicity:
        differences.append(
            _("périodicité %(header)s dans l'en-tête, %(name)s dans le nom")
            % {
                "header": _PERIODICITY_LABELS.get(periodicity, periodicity),
                "name": _PERIODICITY_LABELS.get(match["period"], match["period"]),
            }
        )
    if not differences:
        return None
    return _("Fichier %(name)s refusé : son contenu ne correspond pas à son nom (%(differences)s).") % {
        "name": name,
        "differences": " ; ".join(differences),
    }


def name_out_of_range(name: str, today: date, max_age_days: int) -> str | None:
    """A French message when a name is dated before the server's retention or in the future.

    The server keeps a monthly file one month and a flux ten days (docs/formats), and
    a stock is named after the month it describes: a name older than about two months
    (EXCHANGE_MAX_FILE_AGE_DAYS) cannot be a file it still holds.
    """
    day = name_date(name)
    if day is None:
        return _("Fichier %(name)s ignoré : nom sans date valide.") % {"name": name}
    if day < today - timedelta(days=max_age_days):
        return _(
            "Fichier %(name)s ignoré : daté du %(day)s, avant la durée de conservation du serveur "
            "(%(days)d jours, EXCHANGE_MAX_FILE_AGE_DAYS) : ce ne peut pas être un envoi récent."
        ) % {"name": name, "day": day.strftime("%d/%m/%Y"), "days": max_age_days}
    if day > today + MAX_NAME_AHEAD:
        return _("Fichier %(name)s ignoré : daté du %(day)s, dans le futur.") % {
            "name": name,
            "day": day.strftime("%d/%m/%Y"),
        }
    return None
