from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from beneficiaries.names import display_name, fold, name_key
from beneficiaries.nir import mask_nir
from contract.nir import nir_key


class Source(models.TextChoices):
    LOCAL = "local", _("Outil du Département")
    FRANCE_TRAVAIL = "france_travail", _("Connu seulement de France Travail")


# What rights.retention writes in place of the name of someone kept only for statistics.
ANONYMOUS_NAME = "ANONYME"


# What France Travail identifies a person by in the CGPEM file.
IDENTITY_FIELDS = ("nir", "birth_name", "usage_name", "first_name", "birth_date")


def is_anonymised(birth_name: str, nir: str) -> bool:
    return birth_name == ANONYMOUS_NAME and not nir


class Beneficiary(models.Model):
    """An RSA beneficiary as the Département knows them.

    The `*_key` columns are derived on save and drive matching and searching;
    they are never typed in.
    """

    nir = models.CharField(_("NIR"), max_length=15, blank=True)
    nir_key = models.CharField(max_length=13, blank=True, editable=False, db_index=True)
    birth_name = models.CharField(_("nom de naissance"), max_length=100)
    usage_name = models.CharField(_("nom d'usage"), max_length=100, blank=True)
    first_name = models.CharField(_("prénom"), max_length=100)
    birth_date = models.DateField(_("date de naissance"))
    caf_number = models.CharField(_("n° allocataire CAF"), max_length=15, blank=True, db_index=True)
    msa_number = models.CharField(_("n° allocataire MSA"), max_length=13, blank=True, db_index=True)
    commune_code = models.CharField(_("commune (code INSEE)"), max_length=5, blank=True, db_index=True)
    rsa_start_date = models.DateField(_("date d'entrée au RSA"), null=True, blank=True)
    source = models.CharField(_("origine"), max_length=20, choices=Source.choices, default=Source.LOCAL)

    birth_name_key = models.CharField(max_length=100, editable=False)
    usage_name_key = models.CharField(max_length=100, editable=False, blank=True)
    first_name_key = models.CharField(max_length=100, editable=False)
    # Folded "names + identifiers" text for the search box.
    search_text = models.TextField(editable=False, blank=True)

    created_at = models.DateTimeField(_("créé le"), auto_now_add=True)
    updated_at = models.DateTimeField(_("modifié le"), auto_now=True)
    # Last correction of what France Travail identifies the person by (IDENTITY_FIELDS): the
    # CGPEM flux sends their decisions again under the corrected identity.
    identity_changed_at = models.DateTimeField(
        _("identité corrigée le"), null=True, blank=True, editable=False
    )

    class Meta:
        verbose_name = _("bénéficiaire")
        verbose_name_plural = _("bénéficiaires")
        ordering = ["birth_name_key", "first_name_key", "id"]
        indexes = [
            # The lists' order by name, with the commune that limits a territory's lists: a page
            # far into a territory's list is read from this index alone, not from the table
            # (30 -> 7 ms at page 180 of 25 000 people, docs/performance.md "Sixth pass").
            models.Index(
                fields=["birth_name_key", "first_name_key", "id", "commune_code"],
                name="beneficiary_name_order",
            ),
            # The import's rule 4 looks people up by either name, the first name and the birth date
            # (exchanges.matching): the birth name by the index above, the usage name by this one
            # (why it came back: migration 0005).
            models.Index(
                fields=["usage_name_key", "first_name_key", "birth_date"], name="beneficiary_usage_name"
            ),
            # The newest change is part of the pages' data version (pages.versioned_cache).
            models.Index(fields=["updated_at"], name="beneficiary_updated_at"),
        ]

    def __str__(self) -> str:
        # Used in the admin and in messages to the user, never in logs.
        return f"{self.display_name} ({self.birth_date:%d/%m/%Y})"

    def save(self, *args, **kwargs):
        self.refresh_keys()
        loaded = getattr(self, "_loaded_identity", None)
        if loaded is not None and loaded != self._identity():
            self.identity_changed_at = timezone.now()
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "identity_changed_at"}
        super().save(*args, **kwargs)
        self._loaded_identity = self._identity()

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        # The identity as read, to see on save whether it was corrected.
        instance._loaded_identity = instance._identity()
        return instance

    def _identity(self) -> tuple | None:
        if any(name in self.get_deferred_fields() for name in IDENTITY_FIELDS):
            return None
        return tuple(getattr(self, name) for name in IDENTITY_FIELDS)

    @property
    def display_name(self) -> str:
        return display_name(self.birth_name, self.usage_name, self.first_name)

    @property
    def is_anonymised(self) -> bool:
        """Past the retention period: only what statistics need is kept (rights.retention)."""
        return is_anonymised(self.birth_name, self.nir)

    @property
    def masked_nir(self) -> str:
        return mask_nir(self.nir)

    def refresh_keys(self) -> None:
        self.nir_key = nir_key(self.nir)
        self.birth_name_key = name_key(self.birth_name)
        self.usage_name_key = name_key(self.usage_name)
        self.first_name_key = name_key(self.first_name)
        self.search_text = " ".join(
            part
            for part in (
                fold(self.birth_name),
                fold(self.usage_name),
                fold(self.first_name),
                self.nir_key,
                self.caf_number,
                self.msa_number,
            )
            if part
        )
