import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.translation import ngettext

import audit
from config.private_files import OutputExists, create_private_text
from rights.person_export import export_person, find_people, find_unlinked


class Command(BaseCommand):
    help = (
        "Droit d'accès (RGPD art. 15) : écrit dans un fichier JSON tout ce que l'application détient "
        "sur une personne, retrouvée par son NIR. Le NIR n'est jamais écrit dans les journaux."
    )

    def add_arguments(self, parser):
        parser.add_argument("--nir", required=True, help="NIR de la personne (13 ou 15 caractères)")
        parser.add_argument("--output", required=True, help="nouveau fichier JSON à écrire (jamais écrasé)")

    def handle(self, *args, **options):
        people = find_people(options["nir"])
        unlinked = find_unlinked(options["nir"], people)
        if not people and not unlinked:
            # The NIR is not repeated: this message may end up in a log.
            raise CommandError("Aucun bénéficiaire ni aucune donnée reçue ne correspond à ce NIR.")
        output = Path(options["output"])
        data = export_person(people, unlinked)
        # Created readable by its owner only: it holds one person's whole file.
        try:
            handle = create_private_text(output)
        except OutputExists:
            raise CommandError(
                f"Le fichier {output} existe déjà : choisissez un nouveau nom (l'export n'écrase rien)."
            ) from None
        with handle:
            json.dump(data, handle, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2)
        for beneficiary in people:
            audit.log(None, audit.Action.EXPORT_PERSON, beneficiary)
        for objects in unlinked.values():
            for obj in objects:
                audit.log(None, audit.Action.EXPORT_PERSON, obj)
        received = sum(len(objects) for objects in unlinked.values())
        files = ngettext("%(n)s dossier", "%(n)s dossiers", len(people)) % {"n": len(people)}
        unlinked_data = ngettext(
            "%(n)s donnée reçue non rattachée", "%(n)s données reçues non rattachées", received
        ) % {"n": received}
        self.stdout.write(f"Export écrit dans {output} : {files}, {unlinked_data}.")
