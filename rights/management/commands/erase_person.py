import json

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import ngettext

from rights import erasure
from rights.person_export import find_people, find_unlinked


class Command(BaseCommand):
    help = (
        "Droit à l'effacement (RGPD art. 17) : efface l'identité, l'historique France Travail, les "
        "rapprochements et notes d'une personne retrouvée par son NIR ; garde ses décisions d'orientation "
        "sur une fiche anonymisée et le journal d'audit, en disant pourquoi. Sans --apply : simulation."
    )

    def add_arguments(self, parser):
        parser.add_argument("--nir", required=True, help="NIR de la personne (13 ou 15 caractères)")
        parser.add_argument("--apply", action="store_true", help="effacer réellement (sinon simulation)")
        parser.add_argument("--json", action="store_true", help="résultat en JSON")

    def handle(self, *args, **options):
        people = find_people(options["nir"])
        unlinked = find_unlinked(options["nir"], people)
        if not people and not unlinked:
            # The NIR is not repeated: this message may end up in a log.
            raise CommandError("Aucun bénéficiaire ni aucune donnée reçue ne correspond à ce NIR.")
        result = erasure.erase(people, unlinked) if options["apply"] else erasure.plan(people, unlinked)
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict(), ensure_ascii=False))
            return
        title = (
            "Effacement effectué"
            if result.applied
            else "Simulation (rien n'est effacé, --apply pour effacer)"
        )
        numbers = ", ".join(map(str, result.people))
        files = (
            ngettext("fiche n° %(numbers)s", "fiches n° %(numbers)s", len(result.people))
            % {"numbers": numbers}
            if result.people
            else "aucune fiche"
        )
        self.stdout.write(f"{title} — {files}")
        self.stdout.write("Supprimé :")
        for line in result.removed:
            self.stdout.write(f"  {line.what} : {line.count}")
        self.stdout.write("Conservé :")
        for line in result.kept:
            self.stdout.write(f"  {line.what} : {line.count} — {line.why}")
        for name in result.files:
            self.stdout.write(f"    {name}")
