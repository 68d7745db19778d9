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
    ASSIGNED_REFERENT = "assigned_referent", _("A attribué un référent")
    ENDED_REFERENT = "ended_referent", _("A retiré un référent")
    ADDED_NOTE = "added_note", _("A écrit une note de suivi")
    EDITED_NOTE = "edited_note", _("A corrigé une note de suivi")
    HANDLED_LINE = "handled_line", _("A traité une ligne d'une liste")
    REOPENED_LINE = "reopened_line", _("A remis une ligne d'une liste à traiter")
