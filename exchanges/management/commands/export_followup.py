from django.core.management.base import BaseCommand

from exchanges.followup_export import write_csv


class Command(BaseCommand):
    help = "Export every beneficiary's current France Travail follow-up as CSV (';', UTF-8, ISO dates)."

    def add_arguments(self, parser):
        parser.add_argument("--output", help="CSV file to write (default: standard output)")

    def handle(self, *args, **options):
        if options["output"]:
            with open(options["output"], "w", encoding="utf-8-sig", newline="") as out:
                count = write_csv(out)
            self.stderr.write(f"{count} bénéficiaires exportés dans {options['output']}")
        else:
            write_csv(self.stdout)
