"""Migrations 0001 to 0013 of exchanges in one (issue 24): a new installation creates the
tables as they stood after 0013 in one step instead of fourteen (0010 alone was 80
AlterField of display titles, which now live in the layout, not in the models).

An installation that has applied some or all of 0001-0013 keeps them (`replaces`): Django
uses this migration only where none of them ran. Made with `makemigrations` from the models
at 0013 (tests/test_migrations.py proves its state equals the fourteen's), plus the one
operation of the chain that is not about the models' state: 0009's storage parameter.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


STATUS_EVENTS = "exchanges_statusevent"


def vacuum_status_events_after_each_import(apps, schema_editor):
    # 0009: the dashboard counts events from the (kind, date) index alone only while the
    # visibility map is fresh; at 1 % the table is vacuumed after each monthly import.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"ALTER TABLE {STATUS_EVENTS} SET (autovacuum_vacuum_insert_scale_factor = 0.01)"
        )


def reset_status_events_vacuum(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE {STATUS_EVENTS} RESET (autovacuum_vacuum_insert_scale_factor)")


class Migration(migrations.Migration):
    initial = True

    replaces = [
        ("exchanges", "0001_initial"),
        ("exchanges", "0002_exchange_runs"),
        ("exchanges", "0003_matched_confirmed"),
        ("exchanges", "0004_followup_page_indexes"),
        ("exchanges", "0005_fewer_import_indexes"),
        ("exchanges", "0006_import_without_row_checks"),
        ("exchanges", "0007_review_resolved_index"),
        ("exchanges", "0008_drop_unused_followup_index"),
        ("exchanges", "0009_status_events_vacuumed_after_each_import"),
        ("exchanges", "0010_readable_field_titles"),
        ("exchanges", "0011_followup_received_unreadable"),
        ("exchanges", "0011_pecgm_reading_policy"),
        ("exchanges", "0012_match_rule_site_change"),
        ("exchanges", "0013_merge_reading_policy_and_site_change"),
    ]

    dependencies = [
        ("beneficiaries", "0006_identity_changed_at"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ImportRun",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("file_name", models.CharField(max_length=255, verbose_name="fichier")),
                ("sha256", models.CharField(db_index=True, max_length=64, verbose_name="empreinte SHA-256")),
                ("size", models.BigIntegerField(default=0, verbose_name="taille (octets)")),
                ("reference_date", models.DateField(blank=True, null=True, verbose_name="date de référence")),
                (
                    "periodicity",
                    models.CharField(
                        blank=True,
                        choices=[("M", "Stock mensuel"), ("H", "Flux hebdomadaire"), ("Q", "Flux quotidien")],
                        max_length=1,
                        verbose_name="périodicité",
                    ),
                ),
                ("started_by", models.CharField(default="command", max_length=50, verbose_name="lancé par")),
                ("started_at", models.DateTimeField(auto_now_add=True, verbose_name="début")),
                ("finished_at", models.DateTimeField(blank=True, null=True, verbose_name="fin")),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("running", "en cours"),
                            ("imported", "importé"),
                            ("imported_with_rejects", "importé avec rejets"),
                            ("rejected", "rejeté"),
                            ("duplicate", "déjà importé"),
                        ],
                        default="running",
                        max_length=25,
                        verbose_name="statut",
                    ),
                ),
                ("records", models.PositiveIntegerField(default=0, verbose_name="enregistrements")),
                ("imported", models.PositiveIntegerField(default=0, verbose_name="importés")),
                ("rejected_records", models.PositiveIntegerField(default=0, verbose_name="rejetés")),
                ("warnings", models.PositiveIntegerField(default=0, verbose_name="avertissements")),
                ("matched_nir", models.PositiveIntegerField(default=0, verbose_name="rapprochés par NIR")),
                (
                    "matched_ft_identifier",
                    models.PositiveIntegerField(
                        default=0, verbose_name="rapprochés par identifiant France Travail"
                    ),
                ),
                (
                    "matched_caf_msa",
                    models.PositiveIntegerField(default=0, verbose_name="rapprochés par n° CAF/MSA"),
                ),
                ("matched_name", models.PositiveIntegerField(default=0, verbose_name="rapprochés par nom")),
                (
                    "matched_confirmed",
                    models.PositiveIntegerField(
                        default=0, verbose_name="rapprochés par une décision antérieure"
                    ),
                ),
                ("created", models.PositiveIntegerField(default=0, verbose_name="bénéficiaires créés")),
                ("review", models.PositiveIntegerField(default=0, verbose_name="à vérifier")),
                ("error_message", models.TextField(blank=True, verbose_name="erreur")),
                ("progress_processed", models.PositiveIntegerField(default=0)),
                ("progress_total", models.PositiveIntegerField(default=0)),
                (
                    "user",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="utilisateur",
                    ),
                ),
            ],
            options={
                "verbose_name": "import PECGM",
                "verbose_name_plural": "imports PECGM",
                "ordering": ["-started_at", "-id"],
            },
        ),
        migrations.CreateModel(
            name="ImportReject",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "level",
                    models.CharField(
                        choices=[("error", "rejet"), ("warning", "avertissement")],
                        default="error",
                        max_length=10,
                        verbose_name="niveau",
                    ),
                ),
                (
                    "record_number",
                    models.PositiveIntegerField(blank=True, null=True, verbose_name="enregistrement n°"),
                ),
                ("field", models.CharField(blank=True, max_length=100, verbose_name="champ")),
                ("value", models.TextField(blank=True, verbose_name="valeur")),
                ("message", models.TextField(verbose_name="motif")),
                (
                    "run",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="rejects",
                        to="exchanges.importrun",
                    ),
                ),
            ],
            options={
                "verbose_name": "rejet",
                "verbose_name_plural": "rejets",
                "ordering": ["run", "id"],
            },
        ),
        migrations.CreateModel(
            name="JobSeekerSnapshot",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("nir", models.CharField(blank=True, max_length=26, verbose_name="NIR")),
                ("birth_name", models.CharField(blank=True, max_length=100, verbose_name="Nom de naissance")),
                ("usage_name", models.CharField(blank=True, max_length=100, verbose_name="Nom marital")),
                ("first_name", models.CharField(blank=True, max_length=100, verbose_name="Prénom")),
                ("birth_date", models.DateField(blank=True, null=True, verbose_name="Date de naissance")),
                (
                    "identity_certification",
                    models.TextField(blank=True, verbose_name="Certification de l'identité"),
                ),
                (
                    "commune_code",
                    models.CharField(
                        blank=True, max_length=10, verbose_name="Commune de résidence (code INSEE)"
                    ),
                ),
                (
                    "caf_number",
                    models.CharField(blank=True, max_length=30, verbose_name="N° allocataire CAF"),
                ),
                (
                    "msa_number",
                    models.CharField(blank=True, max_length=26, verbose_name="N° allocataire MSA"),
                ),
                (
                    "registration_date",
                    models.DateField(
                        blank=True, null=True, verbose_name="Date d'inscription comme demandeur d'emploi"
                    ),
                ),
                (
                    "category",
                    models.CharField(blank=True, max_length=10, verbose_name="Catégorie d'inscription"),
                ),
                (
                    "category_label",
                    models.TextField(blank=True, verbose_name="Libellé de la catégorie d'inscription"),
                ),
                (
                    "ft_institution_code",
                    models.CharField(
                        blank=True, max_length=10, verbose_name="Code institution France Travail"
                    ),
                ),
                (
                    "ft_identifier",
                    models.CharField(blank=True, max_length=16, verbose_name="Identifiant France Travail"),
                ),
                (
                    "employment_situation",
                    models.TextField(blank=True, verbose_name="Situation au regard de l'emploi"),
                ),
                (
                    "employment_situation_label",
                    models.TextField(
                        blank=True, verbose_name="Libellé de la situation au regard de l'emploi"
                    ),
                ),
                (
                    "cessation_date",
                    models.DateField(blank=True, null=True, verbose_name="Date de cessation d'inscription"),
                ),
                (
                    "cessation_motive",
                    models.TextField(blank=True, verbose_name="Motif de cessation d'inscription"),
                ),
                (
                    "cessation_motive_label",
                    models.TextField(blank=True, verbose_name="Libellé du motif de cessation"),
                ),
                ("radiation_date", models.DateField(blank=True, null=True, verbose_name="Date de radiation")),
                ("radiation_motive", models.TextField(blank=True, verbose_name="Motif de radiation")),
                (
                    "radiation_motive_label",
                    models.TextField(blank=True, verbose_name="Libellé du motif de radiation"),
                ),
                (
                    "main_structure_name",
                    models.TextField(blank=True, verbose_name="Structure principale de suivi : nom"),
                ),
                (
                    "main_structure_street",
                    models.TextField(blank=True, verbose_name="Structure principale de suivi : voie"),
                ),
                (
                    "main_structure_complement",
                    models.TextField(
                        blank=True, verbose_name="Structure principale de suivi : complément d'adresse"
                    ),
                ),
                (
                    "main_structure_postcode",
                    models.TextField(blank=True, verbose_name="Structure principale de suivi : code postal"),
                ),
                (
                    "main_structure_cedex",
                    models.TextField(blank=True, verbose_name="Structure principale de suivi : cedex"),
                ),
                (
                    "main_structure_post_office",
                    models.TextField(
                        blank=True, verbose_name="Structure principale de suivi : bureau distributeur"
                    ),
                ),
                (
                    "delegated_structure_name",
                    models.TextField(blank=True, verbose_name="Structure de suivi déléguée : nom"),
                ),
                (
                    "delegated_structure_street",
                    models.TextField(blank=True, verbose_name="Structure de suivi déléguée : voie"),
                ),
                (
                    "delegated_structure_complement",
                    models.TextField(
                        blank=True, verbose_name="Structure de suivi déléguée : complément d'adresse"
                    ),
                ),
                (
                    "delegated_structure_postcode",
                    models.TextField(blank=True, verbose_name="Structure de suivi déléguée : code postal"),
                ),
                (
                    "delegated_structure_cedex",
                    models.TextField(blank=True, verbose_name="Structure de suivi déléguée : cedex"),
                ),
                (
                    "delegated_structure_post_office",
                    models.TextField(
                        blank=True, verbose_name="Structure de suivi déléguée : bureau distributeur"
                    ),
                ),
                ("training_level", models.TextField(blank=True, verbose_name="Niveau de formation")),
                (
                    "training_level_label",
                    models.TextField(blank=True, verbose_name="Libellé du niveau de formation"),
                ),
                (
                    "training_sector",
                    models.TextField(blank=True, verbose_name="Secteur de formation (Formacode)"),
                ),
                (
                    "training_sector_label",
                    models.TextField(blank=True, verbose_name="Libellé du secteur de formation"),
                ),
                ("rome_code", models.TextField(blank=True, verbose_name="Métier recherché (code ROME)")),
                ("rome_label", models.TextField(blank=True, verbose_name="Métier recherché (libellé ROME)")),
                ("ft_counsellor", models.TextField(blank=True, verbose_name="Conseiller France Travail")),
                (
                    "ppae_signature_date",
                    models.DateField(blank=True, null=True, verbose_name="Date de signature du PPAE"),
                ),
                (
                    "ppae_notification_date",
                    models.DateField(
                        blank=True,
                        null=True,
                        verbose_name="Date de notification du PPAE (contrat d'engagement réciproque)",
                    ),
                ),
                ("work_axis", models.TextField(blank=True, verbose_name="Axe de travail principal")),
                (
                    "support_mode",
                    models.TextField(blank=True, verbose_name="Modalité d'accompagnement en cours"),
                ),
                (
                    "last_contact_date",
                    models.DateField(blank=True, null=True, verbose_name="Date du dernier contact"),
                ),
                ("record_number", models.PositiveIntegerField(verbose_name="enregistrement n°")),
                ("reference_date", models.DateField(verbose_name="date de référence")),
                (
                    "periodicity",
                    models.CharField(
                        choices=[("M", "Stock mensuel"), ("H", "Flux hebdomadaire"), ("Q", "Flux quotidien")],
                        max_length=1,
                        verbose_name="périodicité",
                    ),
                ),
                (
                    "match_rule",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("nir", "NIR"),
                            ("ft_identifier", "identifiant France Travail"),
                            ("caf_msa", "n° CAF ou MSA et date de naissance"),
                            ("name", "nom, prénom et date de naissance"),
                            ("confirmed", "rapprochement confirmé par un administrateur"),
                            ("site_change", "changement de site (motif 46)"),
                        ],
                        max_length=20,
                        verbose_name="rapproché par",
                    ),
                ),
                (
                    "beneficiary",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="snapshots",
                        to="beneficiaries.beneficiary",
                    ),
                ),
                (
                    "run",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="snapshots",
                        to="exchanges.importrun",
                    ),
                ),
            ],
            options={
                "verbose_name": "situation France Travail reçue",
                "verbose_name_plural": "situations France Travail reçues",
                "ordering": ["-reference_date", "-id"],
            },
        ),
        migrations.CreateModel(
            name="FollowUp",
            fields=[
                ("nir", models.CharField(blank=True, max_length=26, verbose_name="NIR")),
                ("birth_name", models.CharField(blank=True, max_length=100, verbose_name="Nom de naissance")),
                ("usage_name", models.CharField(blank=True, max_length=100, verbose_name="Nom marital")),
                ("first_name", models.CharField(blank=True, max_length=100, verbose_name="Prénom")),
                ("birth_date", models.DateField(blank=True, null=True, verbose_name="Date de naissance")),
                (
                    "identity_certification",
                    models.TextField(blank=True, verbose_name="Certification de l'identité"),
                ),
                (
                    "commune_code",
                    models.CharField(
                        blank=True, max_length=10, verbose_name="Commune de résidence (code INSEE)"
                    ),
                ),
                (
                    "caf_number",
                    models.CharField(blank=True, max_length=30, verbose_name="N° allocataire CAF"),
                ),
                (
                    "msa_number",
                    models.CharField(blank=True, max_length=26, verbose_name="N° allocataire MSA"),
                ),
                (
                    "registration_date",
                    models.DateField(
                        blank=True, null=True, verbose_name="Date d'inscription comme demandeur d'emploi"
                    ),
                ),
                (
                    "category",
                    models.CharField(blank=True, max_length=10, verbose_name="Catégorie d'inscription"),
                ),
                (
                    "category_label",
                    models.TextField(blank=True, verbose_name="Libellé de la catégorie d'inscription"),
                ),
                (
                    "ft_institution_code",
                    models.CharField(
                        blank=True, max_length=10, verbose_name="Code institution France Travail"
                    ),
                ),
                (
                    "ft_identifier",
                    models.CharField(blank=True, max_length=16, verbose_name="Identifiant France Travail"),
                ),
                (
                    "employment_situation",
                    models.TextField(blank=True, verbose_name="Situation au regard de l'emploi"),
                ),
                (
                    "employment_situation_label",
                    models.TextField(
                        blank=True, verbose_name="Libellé de la situation au regard de l'emploi"
                    ),
                ),
                (
                    "cessation_date",
                    models.DateField(blank=True, null=True, verbose_name="Date de cessation d'inscription"),
                ),
                (
                    "cessation_motive",
                    models.TextField(blank=True, verbose_name="Motif de cessation d'inscription"),
                ),
                (
                    "cessation_motive_label",
                    models.TextField(blank=True, verbose_name="Libellé du motif de cessation"),
                ),
                ("radiation_date", models.DateField(blank=True, null=True, verbose_name="Date de radiation")),
                ("radiation_motive", models.TextField(blank=True, verbose_name="Motif de radiation")),
                (
                    "radiation_motive_label",
                    models.TextField(blank=True, verbose_name="Libellé du motif de radiation"),
                ),
                (
                    "main_structure_name",
                    models.TextField(blank=True, verbose_name="Structure principale de suivi : nom"),
                ),
                (
                    "main_structure_street",
                    models.TextField(blank=True, verbose_name="Structure principale de suivi : voie"),
                ),
                (
                    "main_structure_complement",
                    models.TextField(
                        blank=True, verbose_name="Structure principale de suivi : complément d'adresse"
                    ),
                ),
                (
                    "main_structure_postcode",
                    models.TextField(blank=True, verbose_name="Structure principale de suivi : code postal"),
                ),
                (
                    "main_structure_cedex",
                    models.TextField(blank=True, verbose_name="Structure principale de suivi : cedex"),
                ),
                (
                    "main_structure_post_office",
                    models.TextField(
                        blank=True, verbose_name="Structure principale de suivi : bureau distributeur"
                    ),
                ),
                (
                    "delegated_structure_name",
                    models.TextField(blank=True, verbose_name="Structure de suivi déléguée : nom"),
                ),
                (
                    "delegated_structure_street",
                    models.TextField(blank=True, verbose_name="Structure de suivi déléguée : voie"),
                ),
                (
                    "delegated_structure_complement",
                    models.TextField(
                        blank=True, verbose_name="Structure de suivi déléguée : complément d'adresse"
                    ),
                ),
                (
                    "delegated_structure_postcode",
                    models.TextField(blank=True, verbose_name="Structure de suivi déléguée : code postal"),
                ),
                (
                    "delegated_structure_cedex",
                    models.TextField(blank=True, verbose_name="Structure de suivi déléguée : cedex"),
                ),
                (
                    "delegated_structure_post_office",
                    models.TextField(
                        blank=True, verbose_name="Structure de suivi déléguée : bureau distributeur"
                    ),
                ),
                ("training_level", models.TextField(blank=True, verbose_name="Niveau de formation")),
                (
                    "training_level_label",
                    models.TextField(blank=True, verbose_name="Libellé du niveau de formation"),
                ),
                (
                    "training_sector",
                    models.TextField(blank=True, verbose_name="Secteur de formation (Formacode)"),
                ),
                (
                    "training_sector_label",
                    models.TextField(blank=True, verbose_name="Libellé du secteur de formation"),
                ),
                ("rome_code", models.TextField(blank=True, verbose_name="Métier recherché (code ROME)")),
                ("rome_label", models.TextField(blank=True, verbose_name="Métier recherché (libellé ROME)")),
                ("ft_counsellor", models.TextField(blank=True, verbose_name="Conseiller France Travail")),
                (
                    "ppae_signature_date",
                    models.DateField(blank=True, null=True, verbose_name="Date de signature du PPAE"),
                ),
                (
                    "ppae_notification_date",
                    models.DateField(
                        blank=True,
                        null=True,
                        verbose_name="Date de notification du PPAE (contrat d'engagement réciproque)",
                    ),
                ),
                ("work_axis", models.TextField(blank=True, verbose_name="Axe de travail principal")),
                (
                    "support_mode",
                    models.TextField(blank=True, verbose_name="Modalité d'accompagnement en cours"),
                ),
                (
                    "last_contact_date",
                    models.DateField(blank=True, null=True, verbose_name="Date du dernier contact"),
                ),
                (
                    "beneficiary",
                    models.OneToOneField(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="followup",
                        serialize=False,
                        to="beneficiaries.beneficiary",
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("inscrit", "inscrit"),
                            ("cessation", "cessation d'inscription"),
                            ("radie", "radié"),
                            ("non_inscrit", "non inscrit"),
                            ("inconnu", "inconnu"),
                        ],
                        default="inconnu",
                        max_length=20,
                        verbose_name="situation France Travail",
                    ),
                ),
                (
                    "reference_date",
                    models.DateField(
                        blank=True, db_index=True, null=True, verbose_name="données France Travail au"
                    ),
                ),
                (
                    "periodicity",
                    models.CharField(
                        blank=True,
                        choices=[("M", "Stock mensuel"), ("H", "Flux hebdomadaire"), ("Q", "Flux quotidien")],
                        max_length=1,
                        verbose_name="périodicité",
                    ),
                ),
                (
                    "absent_from_last_stock",
                    models.BooleanField(
                        db_index=True, default=False, verbose_name="absent du dernier fichier"
                    ),
                ),
                ("has_unknown_codes", models.BooleanField(default=False, verbose_name="codes inconnus")),
                (
                    "unreadable_on",
                    models.DateField(blank=True, null=True, verbose_name="reçu illisible (fichier du)"),
                ),
                ("updated_at", models.DateTimeField(auto_now=True, verbose_name="mis à jour le")),
                (
                    "source_snapshot",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="exchanges.jobseekersnapshot",
                    ),
                ),
            ],
            options={
                "verbose_name": "suivi France Travail",
                "verbose_name_plural": "suivis France Travail",
            },
        ),
        migrations.CreateModel(
            name="ReviewCase",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "record_number",
                    models.PositiveIntegerField(blank=True, null=True, verbose_name="enregistrement n°"),
                ),
                ("values", models.JSONField(blank=True, default=dict, verbose_name="données reçues")),
                (
                    "reason",
                    models.CharField(
                        choices=[
                            ("nir_conflict", "NIR connu avec une autre date de naissance"),
                            ("several_candidates", "plusieurs bénéficiaires possibles"),
                            ("identifier_mismatch", "rapprochement contredit par un autre identifiant"),
                            ("created_from_ft", "connu seulement de France Travail"),
                        ],
                        max_length=30,
                        verbose_name="motif",
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("open", "à traiter"),
                            ("linked", "rattaché à un bénéficiaire"),
                            ("created", "bénéficiaire créé ou confirmé"),
                            ("dismissed", "écarté"),
                        ],
                        db_index=True,
                        default="open",
                        max_length=20,
                        verbose_name="état",
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="ouvert le")),
                ("resolved_at", models.DateTimeField(blank=True, null=True, verbose_name="traité le")),
                ("resolution_note", models.TextField(blank=True, verbose_name="motif de la décision")),
                (
                    "beneficiary",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="review_cases",
                        to="beneficiaries.beneficiary",
                    ),
                ),
                (
                    "candidates",
                    models.ManyToManyField(blank=True, related_name="+", to="beneficiaries.beneficiary"),
                ),
                (
                    "resolved_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "run",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="reviews",
                        to="exchanges.importrun",
                    ),
                ),
                (
                    "snapshot",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="reviews",
                        to="exchanges.jobseekersnapshot",
                    ),
                ),
            ],
            options={
                "verbose_name": "rapprochement à vérifier",
                "verbose_name_plural": "rapprochements à vérifier",
                "ordering": ["-created_at", "-id"],
            },
        ),
        migrations.CreateModel(
            name="StatusEvent",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("date", models.DateField(verbose_name="date")),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("new_registration", "nouvelle inscription"),
                            ("cessation", "cessation d'inscription"),
                            ("radiation", "radiation"),
                            ("left_stock", "sortie du fichier"),
                            ("returned", "retour dans le fichier"),
                            ("structure_change", "changement de structure de suivi"),
                            ("category_change", "changement de catégorie"),
                        ],
                        max_length=20,
                        verbose_name="évènement",
                    ),
                ),
                ("motive", models.TextField(blank=True, verbose_name="motif")),
                ("motive_label", models.TextField(blank=True, verbose_name="libellé du motif")),
                ("previous_value", models.TextField(blank=True, verbose_name="avant")),
                ("new_value", models.TextField(blank=True, verbose_name="après")),
                (
                    "beneficiary",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="status_events",
                        to="beneficiaries.beneficiary",
                    ),
                ),
                (
                    "run",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="events",
                        to="exchanges.importrun",
                    ),
                ),
            ],
            options={
                "verbose_name": "évènement France Travail",
                "verbose_name_plural": "évènements France Travail",
                "ordering": ["-date", "-id"],
            },
        ),
        migrations.CreateModel(
            name="ExchangeRun",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "direction",
                    models.CharField(
                        choices=[("fetch", "Réception PECGM"), ("deposit", "Dépôt CGPEM")],
                        max_length=10,
                        verbose_name="sens",
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("queued", "en attente"),
                            ("running", "en cours"),
                            ("succeeded", "réussi"),
                            ("failed", "échoué"),
                        ],
                        default="queued",
                        max_length=10,
                        verbose_name="statut",
                    ),
                ),
                ("periodicities", models.CharField(blank=True, max_length=3, verbose_name="périodicités")),
                ("period_end", models.DateField(blank=True, null=True, verbose_name="fin de période")),
                ("started_by", models.CharField(default="command", max_length=50, verbose_name="lancé par")),
                ("task_id", models.CharField(blank=True, max_length=255, null=True, unique=True)),
                ("attempts", models.PositiveIntegerField(default=0, verbose_name="tentatives")),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="créé le")),
                ("started_at", models.DateTimeField(blank=True, null=True, verbose_name="début")),
                ("finished_at", models.DateTimeField(blank=True, null=True, verbose_name="fin")),
                ("heartbeat_at", models.DateTimeField(blank=True, null=True)),
                ("files", models.JSONField(blank=True, default=list, verbose_name="fichiers")),
                (
                    "file_name",
                    models.CharField(blank=True, db_index=True, max_length=100, verbose_name="fichier"),
                ),
                ("sha256", models.CharField(blank=True, max_length=64, verbose_name="empreinte SHA-256")),
                ("cgpem_export_id", models.PositiveIntegerField(blank=True, null=True)),
                ("counts", models.JSONField(blank=True, default=dict, verbose_name="compteurs")),
                ("progress_done", models.PositiveIntegerField(default=0)),
                ("progress_total", models.PositiveIntegerField(default=0)),
                ("error_message", models.TextField(blank=True, verbose_name="erreur")),
                (
                    "user",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="utilisateur",
                    ),
                ),
            ],
            options={
                "verbose_name": "échange",
                "verbose_name_plural": "échanges",
                "ordering": ["-created_at", "-id"],
                "indexes": [
                    models.Index(
                        fields=["direction", "status", "-created_at"], name="exchanges_e_directi_f6d9a5_idx"
                    )
                ],
            },
        ),
        migrations.AddConstraint(
            model_name="importrun",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status__in", ["imported", "imported_with_rejects"])),
                fields=("sha256",),
                name="exchanges_importrun_unique_imported_sha256",
            ),
        ),
        migrations.AddIndex(
            model_name="importreject",
            index=models.Index(fields=["run", "level"], name="exchanges_i_run_id_85c1da_idx"),
        ),
        migrations.AddIndex(
            model_name="jobseekersnapshot",
            index=models.Index(
                fields=["beneficiary", "-reference_date"], name="exchanges_j_benefic_587e94_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="followup",
            index=models.Index(fields=["ft_identifier"], name="exchanges_followup_ft_id"),
        ),
        migrations.AddIndex(
            model_name="followup",
            index=models.Index(fields=["status", "category"], name="exchanges_followup_status_cat"),
        ),
        migrations.AddIndex(
            model_name="followup",
            index=models.Index(fields=["status", "last_contact_date"], name="exchanges_followup_st_contact"),
        ),
        migrations.AddIndex(
            model_name="reviewcase",
            index=models.Index(fields=["resolved_at"], name="exchanges_review_resolved_idx"),
        ),
        migrations.AddIndex(
            model_name="statusevent",
            index=models.Index(fields=["kind", "date"], name="exchanges_s_kind_8f0f55_idx"),
        ),
        migrations.AddIndex(
            model_name="statusevent",
            index=models.Index(fields=["beneficiary", "-date"], name="exchanges_s_benefic_dfdd04_idx"),
        ),
        migrations.RunPython(vacuum_status_events_after_each_import, reset_status_events_vacuum),
    ]
