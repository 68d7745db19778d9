import json

from django.core.management.base import BaseCommand

from rights.retention import purge, report


class Command(BaseCommand):
    help = (
        "Purge des données dont la durée de conservation est dépassée (fichiers bruts, rejets, "
        "bénéficiaires sans activité, journal d'audit). Sans --apply : simulation, rien n'est supprimé."
    )

    def add_arguments(self, parser):
        parser.add_argument("--apply", action="store_true", help="supprimer réellement (sinon simulation)")
        parser.add_argument("--json", action="store_true", help="résultat en JSON")

    def handle(self, *args, **options):
        items = purge(apply=options["apply"])
        if options["json"]:
            self.stdout.write(json.dumps(report(items, applied=options["apply"]), ensure_ascii=False))
            return
        title = (
            "Purge effectuée" if options["apply"] else "Simulation (rien n'est supprimé, --apply pour purger)"
        )
        self.stdout.write(f"{title} :")
        for item in items:
            self.stdout.write(f"  {item.label} : {item.count} (antérieurs au {item.cutoff[:10]})")
