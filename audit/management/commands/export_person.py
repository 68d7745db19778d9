import json
import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.core.serializers.json import DjangoJSONEncoder

import audit
from audit.person_export import export_person, find_people


class Command(BaseCommand):
    help = (
        "Droit d'accès (RGPD art. 15) : écrit dans un fichier JSON tout ce que l'application détient "
        "sur une personne, retrouvée par son NIR. Le NIR n'est jamais écrit dans les journaux."
    )

    def add_arguments(self, parser):
        parser.add_argument("--nir", required=True, help="NIR de la personne (13 ou 15 caractères)")
        parser.add_argument("--output", required=True, help="fichier JSON à écrire")

    def handle(self, *args, **options):
        people = find_people(options["nir"])
        if not people:
            # The NIR is not repeated: this message may end up in a log.
            raise CommandError("Aucun bénéficiaire ne correspond à ce NIR.")
        output = Path(options["output"])
        data = export_person(people)
        # Created readable by its owner only: it holds one person's whole file.
        descriptor = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(data, handle, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2)
        for beneficiary in people:
            audit.log(None, audit.Action.EXPORT_PERSON, beneficiary)
        self.stdout.write(f"{len(people)} dossier(s) exporté(s) dans {output}.")
