"""Template helpers of the caseworker pages: sortable headers, cohort counts on the home page."""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.translation import gettext as _

from beneficiaries.cohorts import cohorts, is_positive_exit
from beneficiaries.dashboard import cohort_counts
from beneficiaries.scoping import visible_beneficiaries

register = template.Library()


@register.simple_tag(takes_context=True)
def sort_header(context, key: str, label: str):
    """A column header that sorts the list by `key`, keeping the filters; says the current order."""
    request = context["request"]
    current = context.get("sort") or "nom"
    params = request.GET.copy()
    params.pop("page", None)
    ascending = current == key
    descending = current == f"-{key}"
    params["tri"] = f"-{key}" if ascending else key
    aria = "ascending" if ascending else "descending" if descending else "none"
    arrow = " ▲" if ascending else " ▼" if descending else ""
    hint = _("trier par ordre décroissant") if ascending else _("trier par ordre croissant")
    return format_html(
        '<th scope="col" aria-sort="{}"><a href="?{}" title="{}">{}</a>{}</th>',
        aria,
        params.urlencode(),
        hint,
        label,
        arrow,
    )


@register.simple_tag(takes_context=True)
def home_cohorts(context) -> list:
    """(cohort, count) for the user's visible beneficiaries, cached (see dashboard.cohort_counts)."""
    counts = cohort_counts(visible_beneficiaries(context["request"].user))
    return [(cohort, counts.get(cohort.slug, 0)) for cohort in cohorts()]


@register.filter
def positive_exit(followup) -> bool:
    return bool(
        followup
        and followup.status == "cessation"
        and is_positive_exit(followup.cessation_motive, followup.cessation_motive_label)
    )


@register.simple_tag(takes_context=True)
def page_url(context, number) -> str:
    """The current URL's query string with another page number."""
    params = context["request"].GET.copy()
    params["page"] = number
    return "?" + params.urlencode()
