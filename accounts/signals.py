from __future__ import annotations

from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from accounts.models import Territory, User
from accounts.sessions import end_sessions_of, mark_started
from accounts.territories import forget_territory_choices


@receiver(user_logged_in, dispatch_uid="accounts_session_started")
def on_logged_in(sender, request, user, **kwargs) -> None:
    # Django has already given the session a new key (cycle_key in login()).
    if request is not None and hasattr(request, "session"):
        mark_started(request.session)


@receiver(pre_save, sender=User, dispatch_uid="accounts_remember_active")
def remember_was_active(sender, instance: User, **kwargs) -> None:
    if instance.pk is None:
        instance._was_active = False
        return
    instance._was_active = User.objects.filter(pk=instance.pk, is_active=True).exists()


@receiver(post_save, sender=User, dispatch_uid="accounts_end_sessions_when_disabled")
def end_sessions_when_disabled(sender, instance: User, **kwargs) -> None:
    if getattr(instance, "_was_active", False) and not instance.is_active:
        end_sessions_of(instance.pk)


@receiver(post_save, sender=Territory, dispatch_uid="accounts_territory_saved")
@receiver(post_delete, sender=Territory, dispatch_uid="accounts_territory_deleted")
def territories_changed(sender, **kwargs) -> None:
    forget_territory_choices()
