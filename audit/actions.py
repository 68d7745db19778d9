from django.db import models
from django.utils.translation import gettext_lazy as _


class Action(models.TextChoices):
    VIEWED_BENEFICIARY = "viewed_beneficiary", _("A consulté un bénéficiaire")
    REVEALED_NIR = "revealed_nir", _("A affiché un NIR")
    EXPORTED = "exported", _("A exporté une liste")
    RECORDED_ORIENTATION = "recorded_orientation", _("A enregistré une orientation")
    CHANGED_ORIENTATION = "changed_orientation", _("A modifié une orientation")
    RESOLVED_REVIEW = "resolved_review", _("A traité un rapprochement à vérifier")
    VIEWED_REVIEW = "viewed_review", _("A consulté un rapprochement à vérifier")
    VIEWED_REJECTS = "viewed_rejects", _("A consulté les rejets d'un fichier")
    DOWNLOADED_FILE = "downloaded_file", _("A téléchargé un fichier d'échange")
    STARTED_EXCHANGE = "started_exchange", _("A lancé un échange")
    CHANGED_REFERENCE_DATA = "changed_reference_data", _("A modifié un organisme ou un correspondant")
    LOGGED_IN = "logged_in", _("Connexion")
    LOGIN_FAILED = "login_failed", _("Échec de connexion")
    LOGGED_OUT = "logged_out", _("Déconnexion")
    SECOND_FACTOR_ENROLLED = "second_factor_enrolled", _("A activé la double authentification")
    ACCESS_DENIED = "access_denied", _("Accès refusé")
    PURGE = "purge", _("Purge des données")
    EXPORT_PERSON = "export_person", _("Export des données d'une personne (droit d'accès)")
    RECTIFIED_IDENTITY = "rectified_identity", _("A rectifié l'identité d'une personne")
    RESTRICTED = "restricted", _("A limité le traitement des données d'une personne")
    RESTRICTION_LIFTED = "restriction_lifted", _("A levé la limitation du traitement")
    ERASED_PERSON = "erased_person", _("Effacement des données d'une personne")
    END_OF_CONVENTION = "end_of_convention", _("Destruction des données de fin de convention")
