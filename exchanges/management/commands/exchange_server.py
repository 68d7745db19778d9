"""Run the exchange-server simulator in the foreground (demo, manual tests)."""

from __future__ import annotations

import logging
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from exchanges.simulator import ExchangeServer, ServerUser


class Command(BaseCommand):
    help = (
        "Simulateur du serveur d'échanges de France Travail (HTTPS, authentification Basic) "
        "servant ROOT/<DEP>/PECGM/ et recevant les dépôts dans ROOT/<DEP>/CGPEM/. "
        "Pour la démonstration et les tests, jamais en production."
    )

    def add_arguments(self, parser):
        parser.add_argument("--root", required=True, type=Path, help="dossier racine des fichiers")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8443)
        parser.add_argument(
            "--user",
            action="append",
            default=[],
            metavar="DEPT:USERNAME:PASSWORD",
            help="compte autorisé (répétable), limité au dossier de son département",
        )
        parser.add_argument(
            "--cert", type=Path, help="certificat du serveur (PEM) ; sinon un certificat auto-signé"
        )
        parser.add_argument("--key", type=Path, help="clé privée du certificat (PEM)")
        parser.add_argument(
            "--ca-file",
            type=Path,
            help="où écrire le certificat de l'autorité de démonstration (défaut : ROOT/../exchange-ca.pem)",
        )

    def handle(self, *args, **options):
        if not options["user"]:
            raise CommandError("Au moins un --user DEPT:USERNAME:PASSWORD est nécessaire.")
        if bool(options["cert"]) != bool(options["key"]):
            raise CommandError("--cert et --key vont ensemble.")
        try:
            users = [ServerUser.parse(spec) for spec in options["user"]]
        except ValueError as exc:
            raise CommandError(f"--user invalide : {exc}") from None
        root = options["root"].resolve()
        root.mkdir(parents=True, exist_ok=True)
        ca_file = options["ca_file"] or (None if options["cert"] else root.parent / "exchange-ca.pem")
        logging.getLogger("exchanges.simulator").setLevel(logging.INFO)
        server = ExchangeServer(
            root,
            users,
            host=options["host"],
            port=options["port"],
            cert_file=options["cert"],
            key_file=options["key"],
            ca_file=ca_file,
        )
        try:
            server.bind()
        except OSError as exc:
            raise CommandError(
                f"Impossible d'écouter sur {options['host']}:{options['port']} : {exc}"
            ) from None
        self.stdout.write(f"Serveur d'échanges simulé : {server.base_url}/")
        self.stdout.write(
            f"Certificat de l'autorité à faire confiance (EXCHANGE_CA_BUNDLE) : {server.ca_path}"
        )
        for user in users:
            self.stdout.write(f"  compte {user.username} → {server.base_url}/{user.departement}/")
        self.stdout.flush()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
