"""Write beneficiaries/data/communes.json from the tarball of @etalab/decoupage-administratif."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import ngettext

from beneficiaries import communes


class Command(BaseCommand):
    help = (
        "Écrit les noms des communes du Département (code officiel géographique de l'INSEE) depuis "
        "l'archive du paquet npm @etalab/decoupage-administratif, après en avoir vérifié l'empreinte SHA-512."
    )

    def add_arguments(self, parser):
        parser.add_argument("tarball", help="l'archive .tgz (npm pack @etalab/decoupage-administratif@6.0.0)")
        parser.add_argument(
            "--integrity",
            help=(
                "l'empreinte attendue d'une autre version, telle que le registre la donne "
                "(npm view @etalab/decoupage-administratif@VERSION dist.integrity) ; "
                f"par défaut celle de la version {', '.join(communes.KNOWN_TARBALLS)}"
            ),
        )
        parser.add_argument(
            "--departement", default=settings.DEPARTEMENT, help="par défaut le réglage DEPARTEMENT"
        )
        parser.add_argument(
            "--output", default=str(communes.DATA_FILE), help=argparse_default(communes.DATA_FILE)
        )

    def handle(self, *args, **options):
        tarball = Path(options["tarball"])
        if not tarball.is_file():
            raise CommandError(f"{tarball} : fichier introuvable.")
        expected = options["integrity"] or communes.KNOWN_TARBALLS["6.0.0"]
        try:
            version, entries = communes.read_tarball(tarball, expected)
        except communes.CommuneDataError as exc:
            raise CommandError(str(exc)) from None
        departement = options["departement"]
        names = communes.names_for(entries, departement)
        if not names:
            raise CommandError(f"{tarball.name} : aucune commune du département {departement}.")
        output = Path(options["output"])
        communes.write_data_file(names, departement, version, expected, output)
        message = ngettext(
            "%(n)s commune du département %(departement)s écrite dans %(output)s (%(source)s).",
            "%(n)s communes du département %(departement)s écrites dans %(output)s (%(source)s).",
            len(names),
        )
        self.stdout.write(
            message
            % {
                "n": len(names),
                "departement": departement,
                "output": output,
                "source": f"{communes.PACKAGE} {version}",
            }
        )


def argparse_default(path: Path) -> str:
    return f"par défaut {path.relative_to(settings.BASE_DIR)}"
