from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm as BaseUserCreationForm
from django.contrib.auth.forms import UserChangeForm as BaseUserChangeForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin as BaseTOTPDeviceAdmin
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Territory, User, is_last_active_admin
from accounts.roles import Role

LAST_ADMIN = _("Il doit rester au moins un administrateur actif : donnez d'abord ce rôle à un autre compte.")
ADMIN_TERRITORY = _(
    "Un administrateur voit tout le Département : les territoires ne le limitent pas (il gère les "
    "comptes et pourrait les retirer). Retirez ses territoires, ou choisissez un autre rôle."
)
TERRITORIES_DESCRIPTION = _(
    "Les territoires limitent les travailleurs sociaux (sans territoire, ils ne voient personne) "
    "et, s'ils en ont, les chargés d'orientation. Ils ne limitent pas les administrateurs, qui "
    "voient tout le Département : un administrateur ne peut pas en recevoir."
)


def refuse_admin_territories(form, cleaned: dict) -> None:
    """Territories do not bind admins (beneficiaries.scoping): giving them one would only pretend."""
    if cleaned.get("role") == Role.ADMIN and cleaned.get("territories"):
        form.add_error("territories", ADMIN_TERRITORY)


class UserCreationForm(BaseUserCreationForm):
    def clean(self):
        cleaned = super().clean()
        refuse_admin_territories(self, cleaned)
        return cleaned


class UserChangeForm(BaseUserChangeForm):
    def clean(self):
        cleaned = super().clean()
        refuse_admin_territories(self, cleaned)
        # Without an active administrator nobody can manage users any more from the
        # application; only the server's operator could (manage.py add_user).
        stays_admin = cleaned.get("role") == Role.ADMIN and cleaned.get("is_active")
        if not stays_admin and is_last_active_admin(self.instance):
            raise ValidationError(LAST_ADMIN)
        return cleaned


class GuardedDeleteMixin:
    """Deleted one at a time, and only when `can_delete(obj)` allows it: the bulk "delete
    selected" action asks no such question, so it is not offered."""

    def can_delete(self, obj) -> bool:
        return True

    def has_delete_permission(self, request, obj=None):
        if obj is not None and not self.can_delete(obj):
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


@admin.register(User)
class UserAdmin(GuardedDeleteMixin, BaseUserAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    list_display = ("username", "last_name", "first_name", "role", "is_active", "last_login")
    list_filter = ("role", "is_active", "territories")
    filter_horizontal = ("territories",)
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("Identité"), {"fields": ("first_name", "last_name", "email")}),
        (_("Rôle"), {"fields": ("role", "is_active")}),
        (_("Territoires"), {"fields": ("territories",), "description": TERRITORIES_DESCRIPTION}),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "role", "password1", "password2")}),
        (_("Territoires"), {"fields": ("territories",), "description": TERRITORIES_DESCRIPTION}),
    )

    # Deleting a selection could take every administrator at once; accounts are deleted
    # one by one (or, better, deactivated: the audit trail keeps their name).
    def can_delete(self, user: User) -> bool:
        return not is_last_active_admin(user)


@admin.register(Territory)
class TerritoryAdmin(GuardedDeleteMixin, admin.ModelAdmin):
    list_display = ("name", "communes", "user_count")
    search_fields = ("name", "communes")

    @admin.display(description=_("utilisateurs"))
    def user_count(self, territory: Territory) -> int:
        return territory.users.count()

    # A user who loses their last territory sees the whole Département (unless a social
    # worker): deleting a territory in use would widen their access without a word. It is
    # taken off their accounts first, each a deliberate change.
    def can_delete(self, territory: Territory) -> bool:
        return not territory.users.exists()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        territory = self.get_object(request, object_id)
        if territory is not None and (count := territory.users.count()):
            messages.info(
                request,
                ngettext(
                    "Ce territoire est attribué à %(count)s utilisateur : retirez-le de son compte "
                    "avant de pouvoir le supprimer.",
                    "Ce territoire est attribué à %(count)s utilisateurs : retirez-le de leurs comptes "
                    "avant de pouvoir le supprimer.",
                    count,
                )
                % {"count": count},
            )
        return super().change_view(request, object_id, form_url, extra_context)


class TOTPDeviceAdmin(BaseTOTPDeviceAdmin):
    """An administrator may remove a user's lost device (they enrol again at their next
    login), never see or choose its secret: one who knew another's key could pass their
    second factor. Adding a device here would show its key, so devices are enrolled by
    their owner only (accounts/second_factor.py)."""

    def has_add_permission(self, request):
        return False


admin.site.unregister(TOTPDevice)
admin.site.register(TOTPDevice, TOTPDeviceAdmin)
