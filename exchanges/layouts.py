"""The record layouts of the PECGM and CGPEM files: the one source of truth.

Annexe 3 of the convention fixes each element (tag), its label, length and
format; annexe 4 the code lists. Everything that reads, writes, validates or
documents these files (the PECGM reader, the CGPEM writer, the snapshot model,
the docs' field table) is driven by the declarations below, so that no tag is
spelled anywhere else.

Formats: `AN` any Latin-1 text, `A` letters (accented ones too), space,
hyphen, apostrophe, `N` digits, `date` = YYYYMMDD (`00000000` or empty means
no date), `address` = a group of sub-elements.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

AN, A, N, DATE, ADDRESS = "AN", "A", "N", "date", "address"


def _codes(**labels: str) -> Mapping[str, str]:
    return MappingProxyType(labels)


# --- Code lists (annexe 4) ----------------------------------------------------

CATEGORIES = MappingProxyType(
    {
        "1": "Personne sans emploi, disponible, cherchant un CDI à temps plein",
        "2": "Personne sans emploi, disponible, cherchant un CDI à temps partiel",
        "3": "Personne sans emploi, disponible, cherchant un CDD, temporaire ou saisonnier",
        "4": "Personne sans emploi, non disponible immédiatement",
        "5": "Personne pourvue d'un emploi, à la recherche d'un autre emploi",
    }
)
TRAINING_LEVELS = MappingProxyType(
    {
        "AFS": "Aucune formation scolaire",
        "CFG": "Certificat de formation générale",
        "CP4": "Primaire à 4e",
        "C12": "2nde ou 1re achevée",
        "C3A": "BEPC, 3e achevée",
        "NV1": "Niveau 8 / 7 (Bac+5 et plus)",
        "NV2": "Niveau 6 (Bac+3, Bac+4)",
        "NV3": "Niveau 5 (Bac+2)",
        "NV4": "Niveau 4 (Bac)",
        "NV5": "Niveau 3 (CAP, BEP)",
    }
)
WORK_AXES = MappingProxyType(
    {
        "01": "Retour direct à l'emploi",
        "02": "Techniques de recherche d'emploi",
        "03": "Stratégie de recherche d'emploi",
        "04": "Adaptation au marché du travail",
        "05": "Élaboration du projet professionnel",
        "06": "Lever les freins périphériques à l'emploi",
        "07": "À explorer",
    }
)
SUPPORT_MODES = MappingProxyType(
    {
        "APR": "À préciser",
        "GUI": "Guidé",
        "REN": "Renforcé",
        "GLO": "Global",
        "SUI": "Suivi",
    }
)
ORIENTATION_NATURES = MappingProxyType(
    {
        "01": "Référent social",
        "02": "Autre opérateur public",
        "03": "Opérateur privé de placement",
        "04": "Réseau d'appui à la création d'entreprise",
        "05": "France Travail (offre de droit commun)",
        "06": "France Travail (offre complémentaire RSA)",
    }
)
PERIODICITIES = MappingProxyType({"M": "Stock mensuel", "H": "Flux hebdomadaire", "Q": "Flux quotidien"})


@dataclass(frozen=True)
class Field:
    """One element of a record.

    `attr` is the Python/model name of the value; for an address, each child's
    attribute is prefixed with the parent's (`main_structure_name`).
    """

    tag: str
    attr: str
    label: str
    length: int | None
    format: str = AN
    required: bool = False
    fixed_length: bool = False
    # A label whose real values run longer than the table says: kept whole, with a warning.
    is_label: bool = False
    codes: Mapping[str, str] | None = None
    # For header/footer elements with a single allowed value.
    constant: str | None = None
    children: tuple[Field, ...] = ()

    @property
    def is_date(self) -> bool:
        return self.format == DATE

    @property
    def is_group(self) -> bool:
        return self.format == ADDRESS


@dataclass(frozen=True)
class Record:
    tag: str
    fields: tuple[Field, ...]

    def __iter__(self) -> Iterator[Field]:
        return iter(self.fields)

    def field(self, tag: str) -> Field:
        for item in self.fields:
            if item.tag == tag:
                return item
        raise KeyError(tag)

    def flat_fields(self) -> Iterator[tuple[tuple[str, ...], Field, str]]:
        """(path of tags, field, attribute) for every leaf, address children included."""
        for item in self.fields:
            if item.is_group:
                for child in item.children:
                    yield (item.tag, child.tag), child, f"{item.attr}_{child.attr}"
            else:
                yield (item.tag,), item, item.attr


@dataclass(frozen=True)
class FileLayout:
    name: str  # PECGM / CGPEM
    fichier: str  # the FICHIER value of the header
    header: Record
    detail: Record
    footer: Record
    direction: str = field(default="")

    def file_name(self, departement: str, reference_date: str, periodicity: str) -> str:
        """`PECGM_082_20250131_M.xml`: département on three characters."""
        return f"{self.name}_{departement.rjust(3, '0')}_{reference_date}_{periodicity}.xml"


def _address(tag: str, attr: str, label: str) -> Field:
    return Field(
        tag,
        attr,
        label,
        None,
        ADDRESS,
        children=(
            Field("NOM", "name", "NOM", 27),
            Field("LIBELLE_VOIE", "street", "LIBELLE VOIE", 32),
            Field("COMPLEMENT_ADRESSE", "complement", "COMPLEMENT ADRESSE", 32),
            Field("CODE_POSTAL", "postcode", "CODE POSTAL", 5, N),
            Field("CEDEX", "cedex", "CEDEX", 2, N),
            Field("BUREAU_DISTRIBUTEUR", "post_office", "BUREAU DISTRIBUTEUR", 25),
        ),
    )


def _header(fichier: str) -> Record:
    return Record(
        "ENTETE",
        (
            Field(
                "TYPE_ENREGISTREMENT", "record_type", "TYPE ENREGISTREMENT", 1, required=True, constant="E"
            ),
            Field("FICHIER", "file_kind", "FICHIER", 4, required=True, constant=fichier),
            Field("PERIODICITE", "periodicity", "PERIODICITE", 1, required=True, codes=PERIODICITIES),
            Field("DEPARTEMENT", "departement", "DEPARTEMENT", 3, required=True),
            Field("DATE_REFERENCE", "reference_date", "DATE DE REFERENCE", 8, DATE, required=True),
            Field("DATE_FABRICATION", "production_date", "DATE DE FABRICATION", 8, DATE, required=True),
            Field("VERSION", "version", "VERSION", 5, required=True),
        ),
    )


FOOTER = Record(
    "FIN",
    (
        Field("TYPE_ENREGISTREMENT", "record_type", "TYPE ENREGISTREMENT", 1, required=True, constant="F"),
        Field("DEPARTEMENT", "departement", "DEPARTEMENT", 3, required=True),
        Field("DATE_REFERENCE", "reference_date", "DATE DE REFERENCE", 8, DATE, required=True),
        Field("NB_ENREGISTREMENTS", "record_count", "NB ENREGISTREMENTS TRANSMIS", 9, N, required=True),
    ),
)

VERSION = "001,0"

PECGM = FileLayout(
    name="PECGM",
    fichier="PECG",
    direction="France Travail → Département",
    header=_header("PECG"),
    footer=FOOTER,
    detail=Record(
        "DETAIL",
        (
            Field(
                "TYPE_ENREGISTREMENT", "record_type", "TYPE ENREGISTREMENT", 1, required=True, constant="D"
            ),
            Field("NIR", "nir", "NIR", 13),
            Field("NOM_NAISSANCE", "birth_name", "NOM DE NAISSANCE", 25, required=True),
            Field("NOM_MARITAL", "usage_name", "NOM MARITAL", 25),
            Field("PRENOM", "first_name", "PRENOM", 25, required=True),
            Field("DATE_NAISSANCE", "birth_date", "DATE DE NAISSANCE", 8, DATE, required=True),
            Field(
                "STATUT_CERTIFICATION_IDENTITE", "identity_certification", "STATUT CERTIFICATION IDENTITE", 1
            ),
            Field("CODE_INSEE_COMMUNE", "commune_code", "CODE INSEE COMMUNE RESIDENCE", 5),
            Field("NUM_ALLOCATAIRE_CAF", "caf_number", "NO ALLOCATAIRE CAF", 15),
            Field("NUM_ALLOCATAIRE_MSA", "msa_number", "NO ALLOCATAIRE MSA", 13),
            Field("DATE_DEBUT_IDE", "registration_date", "DATE DEBUT IDE", 8, DATE),
            Field(
                "CODE_CATEGORIE_INSCRIPTION", "category", "CODE CATEGORIE D'INSCRIPTION", 1, codes=CATEGORIES
            ),
            Field(
                "LIBELLE_CATEGORIE_INSCRIPTION",
                "category_label",
                "LIBELLE CATEGORIE D'INSCRIPTION",
                60,
                is_label=True,
            ),
            Field("CODE_INSTITUTION_PE", "ft_institution_code", "CODE INSTITUTION PE", 3),
            Field("IDENTIFIANT_PE", "ft_identifier", "IDENTIFIANT INDIVIDU PE", 8),
            Field(
                "CODE_SITUATION_EMPLOI",
                "employment_situation",
                "CODE SITUATION AU REGARD DE L'EMPLOI",
                3,
            ),
            Field(
                "LIBELLE_SITUATION_EMPLOI",
                "employment_situation_label",
                "LIBELLE SITUATION AU REGARD DE L'EMPLOI",
                45,
                is_label=True,
            ),
            Field("DATE_CESSATION_IDE", "cessation_date", "DATE CESSATION IDE", 8, DATE),
            Field("MOTIF_CESSATION_IDE", "cessation_motive", "MOTIF CESSATION IDE", 2),
            Field(
                "LIBELLE_MOTIF_CESSATION_IDE",
                "cessation_motive_label",
                "LIBELLE MOTIF CESSATION IDE",
                75,
                is_label=True,
            ),
            Field("DATE_RADIATION", "radiation_date", "DATE RADIATION", 8, DATE),
            Field("MOTIF_RADIATION", "radiation_motive", "MOTIF RADIATION", 2),
            Field(
                "LIBELLE_MOTIF_RADIATION",
                "radiation_motive_label",
                "LIBELLE MOTIF RADIATION",
                20,
                is_label=True,
            ),
            _address("STRUCTURE_PRINCIPALE_SUIVI", "main_structure", "STRUCTURE PRINCIPALE DE SUIVI"),
            _address("STRUCTURE_SUIVI_DELEGUEE", "delegated_structure", "STRUCTURE DE SUIVI DELEGUEE"),
            Field("NIVEAU_FORMATION", "training_level", "NIVEAU DE FORMATION", 3, codes=TRAINING_LEVELS),
            Field(
                "LIBELLE_NIVEAU_FORMATION",
                "training_level_label",
                "LIBELLE NIVEAU DE FORMATION",
                50,
                is_label=True,
            ),
            Field("SECTEUR_FORMATION", "training_sector", "SECTEUR DE FORMATION (FORMACODE)", 5),
            Field(
                "LIBELLE_SECTEUR_FORMATION",
                "training_sector_label",
                "LIBELLE SECTEUR DE FORMATION",
                30,
                is_label=True,
            ),
            Field("CODE_ROME", "rome_code", "CODE ROME V3", 5),
            Field("LIBELLE_ROME", "rome_label", "LIBELLE ROME V3", 150, is_label=True),
            Field("CONSEILLER_PE", "ft_counsellor", "NOM PRENOM DU CONSEILLER PE", 27),
            Field("DATE_SIGNATURE_PPAE", "ppae_signature_date", "DATE SIGNATURE PPAE", 8, DATE),
            Field(
                "DATE_NOTIFICATION_PPAE",
                "ppae_notification_date",
                "DATE NOTIFICATION PPAE VALANT CONTRAT D'ENGAGEMENT RECIPROQUE",
                8,
                DATE,
            ),
            Field("AXE_TRAVAIL", "work_axis", "AXE DE TRAVAIL PRINCIPAL", 2, codes=WORK_AXES),
            Field(
                "MODALITE_ACCOMPAGNEMENT",
                "support_mode",
                "MODALITE D'ACCOMPAGNEMENT EN COURS",
                3,
                codes=SUPPORT_MODES,
            ),
            Field("DATE_DERNIER_CONTACT", "last_contact_date", "DATE DU DERNIER CONTACT", 8, DATE),
        ),
    ),
)


# What the pages call each PECGM value (the convention's labels above are the file's own,
# in capitals and abbreviations: "DATE DEBUT IDE"). Keyed by attr; the models' verbose
# names and the parcours read them here.
def _structure(prefix: str, structure: str) -> dict[str, str]:
    return {
        f"{prefix}_name": format_lazy(_("{structure} : nom"), structure=structure),
        f"{prefix}_street": format_lazy(_("{structure} : voie"), structure=structure),
        f"{prefix}_complement": format_lazy(_("{structure} : complément d'adresse"), structure=structure),
        f"{prefix}_postcode": format_lazy(_("{structure} : code postal"), structure=structure),
        f"{prefix}_cedex": format_lazy(_("{structure} : cedex"), structure=structure),
        f"{prefix}_post_office": format_lazy(_("{structure} : bureau distributeur"), structure=structure),
    }


PECGM_TITLES: Mapping[str, str] = MappingProxyType(
    {
        "nir": _("NIR"),
        "birth_name": _("Nom de naissance"),
        "usage_name": _("Nom marital"),
        "first_name": _("Prénom"),
        "birth_date": _("Date de naissance"),
        "identity_certification": _("Certification de l'identité"),
        "commune_code": _("Commune de résidence (code INSEE)"),
        "caf_number": _("N° allocataire CAF"),
        "msa_number": _("N° allocataire MSA"),
        "registration_date": _("Date d'inscription comme demandeur d'emploi"),
        "category": _("Catégorie d'inscription"),
        "category_label": _("Libellé de la catégorie d'inscription"),
        "ft_institution_code": _("Code institution France Travail"),
        "ft_identifier": _("Identifiant France Travail"),
        "employment_situation": _("Situation au regard de l'emploi"),
        "employment_situation_label": _("Libellé de la situation au regard de l'emploi"),
        "cessation_date": _("Date de cessation d'inscription"),
        "cessation_motive": _("Motif de cessation d'inscription"),
        "cessation_motive_label": _("Libellé du motif de cessation"),
        "radiation_date": _("Date de radiation"),
        "radiation_motive": _("Motif de radiation"),
        "radiation_motive_label": _("Libellé du motif de radiation"),
        **_structure("main_structure", _("Structure principale de suivi")),
        **_structure("delegated_structure", _("Structure de suivi déléguée")),
        "training_level": _("Niveau de formation"),
        "training_level_label": _("Libellé du niveau de formation"),
        "training_sector": _("Secteur de formation (Formacode)"),
        "training_sector_label": _("Libellé du secteur de formation"),
        "rome_code": _("Métier recherché (code ROME)"),
        "rome_label": _("Métier recherché (libellé ROME)"),
        "ft_counsellor": _("Conseiller France Travail"),
        "ppae_signature_date": _("Date de signature du PPAE"),
        "ppae_notification_date": _("Date de notification du PPAE (contrat d'engagement réciproque)"),
        "work_axis": _("Axe de travail principal"),
        "support_mode": _("Modalité d'accompagnement en cours"),
        "last_contact_date": _("Date du dernier contact"),
    }
)

CGPEM = FileLayout(
    name="CGPEM",
    fichier="CGPE",
    direction="Département → France Travail",
    header=_header("CGPE"),
    footer=FOOTER,
    detail=Record(
        "ORIENTATION",
        (
            Field("NIR", "nir", "NIR (sans clé)", 13),
            Field("NOM_NAISSANCE", "birth_name", "NOM DE NAISSANCE", 25, A, required=True),
            Field("NOM_MARITAL", "usage_name", "NOM MARITAL", 25, A),
            Field("PRENOM", "first_name", "PRENOM", 25, A, required=True),
            Field(
                "DATE_NAISSANCE", "birth_date", "DATE DE NAISSANCE", 8, DATE, required=True, fixed_length=True
            ),
            Field("CODE_INSTITUTION_PE", "ft_institution_code", "N° DU PÔLE EMPLOI", 3, fixed_length=True),
            Field(
                "IDENTIFIANT_PE",
                "ft_identifier",
                "IDENTIFIANT PÔLE EMPLOI DU BÉNÉFICIAIRE RSA",
                8,
                fixed_length=True,
            ),
            Field(
                "NATURE_ACCOMPAGNEMENT",
                "nature",
                "NATURE DE L'ACCOMPAGNEMENT",
                2,
                N,
                required=True,
                fixed_length=True,
                codes=ORIENTATION_NATURES,
            ),
            Field(
                "DATE_DECISION_ORIENTATION",
                "decision_date",
                "DATE DE LA DECISION D'ORIENTATION",
                8,
                DATE,
                required=True,
                fixed_length=True,
            ),
            Field("ORGANISME_REFERENT", "referent_body", "ORGANISME REFERENT (nom et adresse)", 90),
            Field("NOM_CORRESPONDANT", "correspondent_last_name", "NOM DU CORRESPONDANT", 30, A),
            Field("PRENOM_CORRESPONDANT", "correspondent_first_name", "PRENOM DU CORRESPONDANT", 25, A),
            Field(
                "TEL_CORRESPONDANT",
                "correspondent_phone",
                "NO TEL DU CORRESPONDANT",
                10,
                N,
                fixed_length=True,
            ),
            Field("EMAIL_CORRESPONDANT", "correspondent_email", "EMAIL DU CORRESPONDANT", 60),
            Field("SERVICE_CORRESPONDANT", "correspondent_service", "SERVICE DU CORRESPONDANT", 50),
        ),
    ),
)

LAYOUTS = {layout.name: layout for layout in (PECGM, CGPEM)}
