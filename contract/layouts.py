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

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from contract.departement import departement_on_three
from contract.nir import InvalidNIR, clean_nir, is_nir_key

AN, A, N, DATE, ADDRESS = "AN", "A", "N", "date", "address"


# --- Code lists (annexe 4) ----------------------------------------------------
# In the convention's own words, typos included: contract/schemas/annexe4-codes.json
# is a copy of the annexe's tables (the format contract's), read here and nowhere else.

ANNEXE4_PATH = Path(__file__).resolve().parent / "schemas" / "annexe4-codes.json"
_ANNEXE4 = json.loads(ANNEXE4_PATH.read_text(encoding="utf-8"))

# Category codes 1-5; an empty category has a meaning of its own (EMPTY_CATEGORY).
CATEGORIES = MappingProxyType({k: v for k, v in _ANNEXE4["categorie_inscription"].items() if k})
EMPTY_CATEGORY = _ANNEXE4["categorie_inscription"][""]
TRAINING_LEVELS = MappingProxyType(_ANNEXE4["niveau_formation"])
WORK_AXES = MappingProxyType(_ANNEXE4["axe_travail"])
SUPPORT_MODES = MappingProxyType(_ANNEXE4["modalite_accompagnement"])
# The CGPEM's natures of support (01-06), in the annexe's words ("PE" is France Travail).
ORIENTATION_NATURES = MappingProxyType(_ANNEXE4["nature_accompagnement (CGPEM)"])
# The 36 motives of a cessation of registration (11 to 98).
CESSATION_MOTIVES = MappingProxyType(_ANNEXE4["motif_cessation_ide"])
CESSATION_MOTIVE_NOTES = MappingProxyType(_ANNEXE4["motif_cessation_notes"])
# Motive 46, "changement site": France Travail gives the person a new identifier and agency code.
SITE_CHANGE_MOTIVE = "46"
# The radiation motives come as labels only: the convention gives them no codes.
RADIATION_MOTIVE_LABELS = tuple(
    _ANNEXE4["libelle_motif_radiation (labels only, the convention gives no codes)"]
)

# A "sortie positive", from the cessation table: return to work (11-15 by one's own means,
# 21-25 through the agency), business creation (16), subsidised contracts (CIE 18, CAE 19),
# entry into a course or training (31, 32, 34 AREF). 43 is the end of a temporary contract
# or CDD (category 5 only), not a training entry.
POSITIVE_EXIT_GROUPS = MappingProxyType(
    {
        "reprise d'emploi": ("11", "12", "13", "14", "15", "21", "22", "23", "24", "25"),
        "création d'entreprise": ("16",),
        "contrat aidé": ("18", "19"),
        "entrée en stage ou en formation": ("31", "32", "34"),
    }
)
POSITIVE_EXIT_MOTIVES = frozenset(code for codes in POSITIVE_EXIT_GROUPS.values() for code in codes)
assert POSITIVE_EXIT_MOTIVES.issubset(CESSATION_MOTIVES)

PERIODICITIES = MappingProxyType({"M": "Stock mensuel", "H": "Flux hebdomadaire", "Q": "Flux quotidien"})


# --- Reading policy: each PECGM value's role (issue 21) ----------------------------
# The convention's widths come from a fixed-width past and France Travail lengthens
# labels and adds codes without notice: the reader takes what is sent, and is strict
# only where a wrong value would attach data to the wrong person or a wrong status.

IDENTIFYING, STATUS, DESCRIPTIVE, OPTIONAL = "identifying", "status", "descriptive", "optional"

ROLE_POLICIES: Mapping[str, str] = MappingProxyType(
    {
        IDENTIFYING: "forme vérifiée, une valeur de forme fausse rejette l'enregistrement ; "
        "plus longue que la table, elle est gardée avec un avertissement",
        STATUS: "forme vérifiée, une valeur de forme fausse (date inexistante) rejette l'enregistrement",
        DESCRIPTIVE: "gardé en entier quelle que soit sa longueur, avec un avertissement "
        "au-delà de la table ou s'il n'a pas la forme prévue ; ne rejette jamais l'enregistrement",
        OPTIONAL: "une valeur invalide (date inexistante) est écartée avec un avertissement ; "
        "l'enregistrement est gardé",
    }
)
ROLE_NAMES: Mapping[str, str] = MappingProxyType(
    {IDENTIFYING: "identifiant", STATUS: "statut", DESCRIPTIVE: "descriptif", OPTIONAL: "facultatif"}
)


@dataclass(frozen=True)
class Shape:
    """What an identifying, status-bearing or optional value must look like.

    `pattern` must match the whole value; `check`, when given, is asked too (a NIR's
    key). `max_length` bounds the value, hence the column that stores it.
    """

    description: str
    max_length: int
    pattern: str | None = None
    check: Callable[[str], bool] | None = None


def _is_nir(value: str) -> bool:
    if len(value) == 13:  # nearly every NIR of a file: one regular expression (a file has 150 000)
        return is_nir_key(value)
    try:  # as written: clean_nir would take out spaces and dots, which no NIR of a file holds
        return len(value) == 15 and clean_nir(value) == value
    except InvalidNIR:
        return False


NIR_SHAPE = Shape(
    "13 caractères de la forme d'un NIR (sexe, année, mois, département, commune, ordre), "
    "ou 15 avec une clé juste",
    15,
    check=_is_nir,
)
# A name longer than the table (25) is a name; beyond this it is not one (and the
# beneficiary's own columns hold this much).
NAME_SHAPE = Shape("texte de 100 caractères au plus", 100)
INSTITUTION_SHAPE = Shape("1 à 3 chiffres ou lettres", 3, r"[0-9A-Za-z]{1,3}")
FT_IDENTIFIER_SHAPE = Shape("8 chiffres ou lettres", 8, r"[0-9A-Za-z]{8}")
CATEGORY_SHAPE = Shape("un chiffre ou une lettre", 1, r"[0-9A-Za-z]")
COMMUNE_SHAPE = Shape("code INSEE de 5 caractères (2A ou 2B pour la Corse)", 5, r"\d{5}|2[AB]\d{3}")
CAF_SHAPE = Shape("15 chiffres ou lettres au plus", 15, r"[0-9A-Za-z]{1,15}")
MSA_SHAPE = Shape("13 chiffres ou lettres au plus", 13, r"[0-9A-Za-z]{1,13}")


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
    # How the PECGM reader treats the value (ROLE_POLICIES); None: header, footer and
    # constants, where anything wrong refuses the file or the record.
    role: str | None = None
    shape: Shape | None = None

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
        return f"{self.name}_{departement_on_three(departement)}_{reference_date}_{periodicity}.xml"


def _address(tag: str, attr: str, label: str) -> Field:
    return Field(
        tag,
        attr,
        label,
        None,
        ADDRESS,
        children=(
            Field("NOM", "name", "NOM", 27, role=DESCRIPTIVE),
            Field("LIBELLE_VOIE", "street", "LIBELLE VOIE", 32, role=DESCRIPTIVE),
            Field("COMPLEMENT_ADRESSE", "complement", "COMPLEMENT ADRESSE", 32, role=DESCRIPTIVE),
            Field("CODE_POSTAL", "postcode", "CODE POSTAL", 5, N, role=DESCRIPTIVE),
            Field("CEDEX", "cedex", "CEDEX", 2, N, role=DESCRIPTIVE),
            Field("BUREAU_DISTRIBUTEUR", "post_office", "BUREAU DISTRIBUTEUR", 25, role=DESCRIPTIVE),
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
            Field("NIR", "nir", "NIR", 13, role=IDENTIFYING, shape=NIR_SHAPE),
            Field(
                "NOM_NAISSANCE",
                "birth_name",
                "NOM DE NAISSANCE",
                25,
                required=True,
                role=IDENTIFYING,
                shape=NAME_SHAPE,
            ),
            Field("NOM_MARITAL", "usage_name", "NOM MARITAL", 25, role=IDENTIFYING, shape=NAME_SHAPE),
            Field("PRENOM", "first_name", "PRENOM", 25, required=True, role=IDENTIFYING, shape=NAME_SHAPE),
            Field(
                "DATE_NAISSANCE", "birth_date", "DATE DE NAISSANCE", 8, DATE, required=True, role=IDENTIFYING
            ),
            Field(
                "STATUT_CERTIFICATION_IDENTITE",
                "identity_certification",
                "STATUT CERTIFICATION IDENTITE",
                1,
                role=DESCRIPTIVE,
            ),
            # Optional, not descriptive: they fill the beneficiary's own columns (commune:
            # territories; CAF and MSA numbers: matching), so a malformed one is left out.
            Field(
                "CODE_INSEE_COMMUNE",
                "commune_code",
                "CODE INSEE COMMUNE RESIDENCE",
                5,
                role=OPTIONAL,
                shape=COMMUNE_SHAPE,
            ),
            Field(
                "NUM_ALLOCATAIRE_CAF", "caf_number", "NO ALLOCATAIRE CAF", 15, role=OPTIONAL, shape=CAF_SHAPE
            ),
            Field(
                "NUM_ALLOCATAIRE_MSA", "msa_number", "NO ALLOCATAIRE MSA", 13, role=OPTIONAL, shape=MSA_SHAPE
            ),
            Field("DATE_DEBUT_IDE", "registration_date", "DATE DEBUT IDE", 8, DATE, role=STATUS),
            Field(
                "CODE_CATEGORIE_INSCRIPTION",
                "category",
                "CODE CATEGORIE D'INSCRIPTION",
                1,
                codes=CATEGORIES,
                role=STATUS,
                shape=CATEGORY_SHAPE,
            ),
            Field(
                "LIBELLE_CATEGORIE_INSCRIPTION",
                "category_label",
                "LIBELLE CATEGORIE D'INSCRIPTION",
                60,
                is_label=True,
                role=DESCRIPTIVE,
            ),
            Field(
                "CODE_INSTITUTION_PE",
                "ft_institution_code",
                "CODE INSTITUTION PE",
                3,
                role=IDENTIFYING,
                shape=INSTITUTION_SHAPE,
            ),
            Field(
                "IDENTIFIANT_PE",
                "ft_identifier",
                "IDENTIFIANT INDIVIDU PE",
                8,
                role=IDENTIFYING,
                shape=FT_IDENTIFIER_SHAPE,
            ),
            Field(
                "CODE_SITUATION_EMPLOI",
                "employment_situation",
                "CODE SITUATION AU REGARD DE L'EMPLOI",
                3,
                role=DESCRIPTIVE,
            ),
            Field(
                "LIBELLE_SITUATION_EMPLOI",
                "employment_situation_label",
                "LIBELLE SITUATION AU REGARD DE L'EMPLOI",
                45,
                is_label=True,
                role=DESCRIPTIVE,
            ),
            Field("DATE_CESSATION_IDE", "cessation_date", "DATE CESSATION IDE", 8, DATE, role=STATUS),
            Field(
                "MOTIF_CESSATION_IDE",
                "cessation_motive",
                "MOTIF CESSATION IDE",
                2,
                codes=CESSATION_MOTIVES,
                role=DESCRIPTIVE,
            ),
            Field(
                "LIBELLE_MOTIF_CESSATION_IDE",
                "cessation_motive_label",
                "LIBELLE MOTIF CESSATION IDE",
                75,
                is_label=True,
                role=DESCRIPTIVE,
            ),
            Field("DATE_RADIATION", "radiation_date", "DATE RADIATION", 8, DATE, role=STATUS),
            Field("MOTIF_RADIATION", "radiation_motive", "MOTIF RADIATION", 2, role=DESCRIPTIVE),
            Field(
                "LIBELLE_MOTIF_RADIATION",
                "radiation_motive_label",
                "LIBELLE MOTIF RADIATION",
                20,
                is_label=True,
                role=DESCRIPTIVE,
            ),
            _address("STRUCTURE_PRINCIPALE_SUIVI", "main_structure", "STRUCTURE PRINCIPALE DE SUIVI"),
            _address("STRUCTURE_SUIVI_DELEGUEE", "delegated_structure", "STRUCTURE DE SUIVI DELEGUEE"),
            Field(
                "NIVEAU_FORMATION",
                "training_level",
                "NIVEAU DE FORMATION",
                3,
                codes=TRAINING_LEVELS,
                role=DESCRIPTIVE,
            ),
            Field(
                "LIBELLE_NIVEAU_FORMATION",
                "training_level_label",
                "LIBELLE NIVEAU DE FORMATION",
                50,
                is_label=True,
                role=DESCRIPTIVE,
            ),
            Field(
                "SECTEUR_FORMATION",
                "training_sector",
                "SECTEUR DE FORMATION (FORMACODE)",
                5,
                role=DESCRIPTIVE,
            ),
            Field(
                "LIBELLE_SECTEUR_FORMATION",
                "training_sector_label",
                "LIBELLE SECTEUR DE FORMATION",
                30,
                is_label=True,
                role=DESCRIPTIVE,
            ),
            Field("CODE_ROME", "rome_code", "CODE ROME V3", 5, role=DESCRIPTIVE),
            Field("LIBELLE_ROME", "rome_label", "LIBELLE ROME V3", 150, is_label=True, role=DESCRIPTIVE),
            Field("CONSEILLER_PE", "ft_counsellor", "NOM PRENOM DU CONSEILLER PE", 27, role=DESCRIPTIVE),
            Field(
                "DATE_SIGNATURE_PPAE", "ppae_signature_date", "DATE SIGNATURE PPAE", 8, DATE, role=OPTIONAL
            ),
            Field(
                "DATE_NOTIFICATION_PPAE",
                "ppae_notification_date",
                "DATE NOTIFICATION PPAE VALANT CONTRAT D'ENGAGEMENT RECIPROQUE",
                8,
                DATE,
                role=OPTIONAL,
            ),
            Field(
                "AXE_TRAVAIL", "work_axis", "AXE DE TRAVAIL PRINCIPAL", 2, codes=WORK_AXES, role=DESCRIPTIVE
            ),
            Field(
                "MODALITE_ACCOMPAGNEMENT",
                "support_mode",
                "MODALITE D'ACCOMPAGNEMENT EN COURS",
                3,
                codes=SUPPORT_MODES,
                role=DESCRIPTIVE,
            ),
            Field(
                "DATE_DERNIER_CONTACT", "last_contact_date", "DATE DU DERNIER CONTACT", 8, DATE, role=OPTIONAL
            ),
        ),
    ),
)
# Every value of a PECGM record has its policy (the record type is a constant).
assert all(item.role for _path, item, _attr in PECGM.detail.flat_fields() if item.constant is None)


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
