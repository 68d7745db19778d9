import json
from datetime import date
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import ngettext

from orientations.cgpem import CgpemError, generate_cgpem


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"date « {value} » invalide (attendu AAAA-MM-JJ)") from None


class Command(BaseCommand):
    help = "Écrit, valide et archive le fichier CGPEM de la période qui finit le --date."

    def add_arguments(self, parser):
        parser.add_argument(
            "--periodicity",
            required=True,
            choices=["M", "H", "Q"],
            help="M : mensuel ; H : hebdomadaire ; Q : quotidien",
        )
        parser.add_argument("--date", required=True, help="fin de la période, AAAA-MM-JJ")
        parser.add_argument("--output", required=True, help="où copier le fichier produit")
        parser.add_argument("--json", action="store_true", help="écrire le bilan en JSON")

    def handle(self, *args, **options):
        period_end = _date(options["date"])
        output = Path(options["output"])
        if not output.parent.is_dir():
            raise CommandError(f"{output.parent} : dossier introuvable")
        try:
            export = generate_cgpem(options["periodicity"], period_end, created_by="command", output=output)
        except CgpemError as exc:
            raise CommandError(str(exc)) from None
        summary = {
            "file": export.file_name,
            "output": str(output),
            "archive": export.path,
            "sha256": export.sha256,
            "period_start": export.period_start.isoformat(),
            "period_end": export.period_end.isoformat(),
            "records": export.records,
            "excluded": export.excluded,
            "transliterated": export.transliterations,
            "warnings": export.warnings,
        }
        if options["json"]:
            self.stdout.write(json.dumps(summary, ensure_ascii=False))
            return
        counts = {
            "written": export.records,
            "excluded": len(export.excluded),
            "transliterations": len(export.transliterations),
            "warnings": len(export.warnings),
        }
        parts = [
            ngettext("%(written)s décision écrite", "%(written)s décisions écrites", counts["written"]),
            ngettext("%(excluded)s écartée", "%(excluded)s écartées", counts["excluded"]),
            ngettext(
                "%(transliterations)s translittération",
                "%(transliterations)s translittérations",
                counts["transliterations"],
            ),
            ngettext("%(warnings)s avertissement", "%(warnings)s avertissements", counts["warnings"]),
        ]
        self.stdout.write(f"{export.file_name} : " + ", ".join(part % counts for part in parts) + ".")
        for item in export.excluded:
            self.stdout.write(f"  écartée : décision {item['decision']} : " + " ; ".join(item["reasons"]))
        for item in export.transliterations:
            replaced = ", ".join(f"{old} → {new}" for old, new in item["replaced"].items())
            self.stdout.write(f"  translittérée : décision {item['decision']}, {item['field']} : {replaced}")
        for item in export.warnings:
            self.stdout.write(f"  avertissement : décision {item['decision']} : {item['message']}")
