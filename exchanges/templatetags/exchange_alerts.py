"""The exchange alerts panel of the admins' home page (templates/accounts/home.html)."""

from django import template

from accounts.roles import Capability, has_capability
from exchanges.alerts import exchange_alerts as current_alerts

register = template.Library()


@register.inclusion_tag("exchanges/runs/_alerts.html", takes_context=True)
def exchange_alerts(context) -> dict:
    user = context["request"].user
    return {"alerts": current_alerts() if has_capability(user, Capability.MANAGE_EXCHANGES) else []}
