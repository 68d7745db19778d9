"""`make run`: the development server, with a simulated exchange server full of demo files.

So that a newcomer can press "Lancer l'échange" and watch a real fetch over
HTTPS: when no EXCHANGE_URL is configured (embedded mode), this writes two
monthly PECGM stocks for the demo beneficiaries (the same synthetic people
as seed_demo), starts the simulator on 127.0.0.1:8443 (another free port if
that one is taken) in a thread, points the application at it, then runs
`runserver`. Safe to run again: files already there are kept.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from beneficiaries.demo import fake_people
from contract.departement import departement_on_three
from contract.layouts import PECGM
from exchanges.simulator import ExchangeServer, ServerUser
from exchanges.synthetic import fake_pecgm_records, month_end, next_month, write_pecgm

DEMO_USER = "demo-cd"
DEMO_PASSWORD = "demo-echanges-liaison-rsa"  # noqa: S105 - a demo account of a local simulator
DEMO_PEOPLE = 300  # seed_demo's default
IN_FILE = 240  # known beneficiaries in each stock; the file adds a few unknown people


class Command(BaseCommand):
    help = (
        "Serveur de développement avec un serveur d'échanges simulé et des fichiers PECGM de démonstration."
    )

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--exchange-port", type=int, default=8443)
        parser.add_argument("--noreload", action="store_true")

    def handle(self, *args, **options):
        if settings.PRODUCTION:
            raise CommandError("run_demo est réservé au mode embarqué (démonstration).")
        # With the autoreloader, this command runs again in the child process
        # that serves: the simulator lives in the parent, the child inherits
        # the environment variables that point at it.
        if os.environ.get("RUN_MAIN") != "true":
            if settings.EXCHANGE_URL:
                self.stdout.write(
                    f"Serveur d'échanges configuré : {settings.EXCHANGE_URL} (pas de simulateur)."
                )
            else:
                self.start_simulator(options["exchange_port"])
        call_command("runserver", options["addrport"], use_reloader=not options["noreload"])

    def start_simulator(self, port: int) -> None:
        root = Path(settings.DATA_DIR) / "demo-exchange"
        files = root / "server"
        written = write_demo_files(files)
        user = ServerUser(departement_on_three(settings.DEPARTEMENT), DEMO_USER, DEMO_PASSWORD)
        options = {"ca_file": root / "ca.pem", "quiet": True}
        try:
            server = ExchangeServer(files, [user], port=port, **options).start()
        except OSError:
            server = ExchangeServer(files, [user], port=0, **options).start()
        values = {
            "EXCHANGE_URL": server.base_url,
            "EXCHANGE_USERNAME": DEMO_USER,
            "EXCHANGE_PASSWORD": DEMO_PASSWORD,
            "EXCHANGE_CA_BUNDLE": str(server.ca_path),
        }
        os.environ.update(values)
        for name, value in values.items():
            setattr(settings, name, value)
        self.stdout.write(f"Serveur d'échanges simulé : {server.base_url}/{user.departement}/PECGM/")
        if written:
            self.stdout.write(f"  fichiers de démonstration écrits : {', '.join(written)}")
        self.stdout.write("  page « Échanges » (compte admin) → « Lancer l'échange » pour les importer.")


def write_demo_files(root: Path) -> list[str]:
    """Two monthly stocks (the last two months) for the demo people, unless already there."""
    folder = root / departement_on_three(settings.DEPARTEMENT) / "PECGM"
    folder.mkdir(parents=True, exist_ok=True)
    last_month = timezone.localdate().replace(day=1) - timedelta(days=1)
    before = month_end(last_month.replace(day=1) - timedelta(days=1))
    first = list(
        fake_pecgm_records(fake_people(DEMO_PEOPLE)[:IN_FILE], IN_FILE + 12, seed=1, reference_date=before)
    )
    second = list(next_month(first, seed=2, reference_date=last_month))
    written = []
    for day, records in ((before, first), (last_month, second)):
        name = PECGM.file_name(settings.DEPARTEMENT, day.strftime("%Y%m%d"), "M")
        if not (folder / name).exists():
            write_pecgm(folder / name, records, reference_date=day, periodicity="M")
            written.append(name)
    return written
