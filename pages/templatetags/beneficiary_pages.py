"""Template helpers of the caseworker pages: sortable headers, cohort counts on the home page."""

from __future__ import annotations

import functools
from html import escape as html_escape
from urllib.parse import quote

from django import forms, template
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from beneficiaries.communes import commune_label
from beneficiaries.scoping import territory_communes
from pages.cohorts import cohorts, france_travail_data_received
from pages.dashboard import cohort_counts

register = template.Library()


def _esc(value) -> str:
    """Django's escape() without its lazy-string wrapper, which cost more than the escaping.

    The same five characters are escaped (Django's escape() calls html.escape() too); the
    tags below mark their whole output safe once. A page of the parcours escapes ~1 000 values.
    """
    return html_escape(str(value))


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


@register.simple_tag
def france_travail_received() -> bool:
    """Whether a PECGM file was ever imported (cohorts.france_travail_data_received)."""
    return france_travail_data_received()


@register.simple_tag(takes_context=True)
def home_cohorts(context) -> list:
    """(cohort, count) for the user's visible beneficiaries, cached (see dashboard.cohort_counts)."""
    counts = cohort_counts(territory_communes(context["request"].user))
    return [(cohort, counts.get(cohort.slug, 0)) for cohort in cohorts()]


def _control(field) -> str:
    """One filter's control (no label), with the value the user sent."""
    form_field = field.field
    value = field.value()
    invalid = ' aria-invalid="true"' if field.errors else ""
    name, ident = _esc(field.html_name), _esc(field.id_for_label)
    if isinstance(form_field, forms.BooleanField):
        checked = " checked" if value else ""
        return (
            f'<input type="checkbox" class="form-check-input" name="{name}" id="{ident}"{checked}{invalid}>'
        )
    if isinstance(form_field, forms.ChoiceField):
        current = "" if value is None else str(value)
        options = "".join(
            f'<option value="{_esc(choice)}"{" selected" if str(choice) == current else ""}>'
            f"{_esc(label)}</option>"
            for choice, label in form_field.choices
        )
        return f'<select class="form-select" name="{name}" id="{ident}"{invalid}>{options}</select>'
    kind = "date" if isinstance(form_field, forms.DateField) else "text"
    length = f' maxlength="{form_field.max_length}"' if getattr(form_field, "max_length", None) else ""
    current = "" if value is None else _esc(value)
    suggest, datalist = "", ""
    if hasattr(form_field, "suggestions"):  # the communes' names (filters.CommuneField)
        suggest = f' list="{ident}-noms" autocomplete="off"'
        datalist = _datalist(f"{ident}-noms", tuple(form_field.suggestions().items()))
    return (
        f'<input type="{kind}" class="form-control" name="{name}" id="{ident}" value="{current}"'
        f"{length}{suggest}{invalid}>{datalist}"
    )


@functools.lru_cache(maxsize=4)
def _datalist(ident: str, options: tuple[tuple[str, str], ...]) -> str:
    """Built once: the Département's communes are a few hundred options on every list page."""
    items = "".join(f'<option value="{_esc(value)}">{_esc(label)}</option>' for value, label in options)
    return f'<datalist id="{_esc(ident)}">{items}</datalist>'


@register.filter
def commune(code: str | None) -> str:
    """« Montauban (82121) »; the code alone when the Département's file does not name it."""
    return commune_label(code) or "—"


@register.simple_tag
def filter_controls(form, skip: str = "q"):
    """The filter panel's fields, label and control each, in Bootstrap's grid.

    Written here rather than through Django's widget templates: rendering the
    22 widgets that way took ~25 ms of every list page (docs/performance.md).
    """
    cells = []
    for field in form:
        if field.name == skip:
            continue
        label = _esc(field.label)
        if isinstance(field.field, forms.BooleanField):
            cells.append(
                '<div class="col-sm-6 col-lg-3 form-check ps-5 pt-4">'
                f'{_control(field)} <label class="form-check-label" for="{_esc(field.id_for_label)}">'
                f"{label}</label></div>"
            )
        else:
            cells.append(
                '<div class="col-sm-6 col-lg-3">'
                f'<label class="form-label" for="{_esc(field.id_for_label)}">{label}</label>'
                f"{_control(field)}</div>"
            )
    return mark_safe("".join(cells))  # noqa: S308 (every value above is escaped)


def _cell(text: str) -> str:
    return _esc(text) if text else "—"


@register.simple_tag(takes_context=True)
def list_rows(context, page, select: bool = False, cohort=None) -> str:
    """The <tr> of a list page's rows (pages.listing.Row).

    Written here rather than in a template loop: 50 rows of a dozen cells through the
    template engine cost ~5 ms of every list page, this ~1 ms (docs/performance.md).
    """
    if not page.rows:
        columns = 10 + bool(select) + bool(cohort)
        return format_html(
            '<tr><td colspan="{}">{}</td></tr>', columns, _("Aucun bénéficiaire ne correspond.")
        )
    choose = _esc(_("Choisir"))
    if cohort is not None:
        # The worklist's column: mark a line handled, or what was done (cohort, month: handlings).
        # request.GET, not the query string: after an htmx search the view sets it to the new list's.
        request = context["request"]
        back = quote(f"{request.path}?{request.GET.urlencode()}" if request.GET else request.path, safe="")
        handle_prefix, handle_suffix = reverse("caseload_handle", args=[cohort.slug, 0]).rsplit("0", 1)
        handle_label = _esc(_("Marquer traité"))
        handled_word = _esc(_("Traité"))
    # One reverse() for the page: the pk is the path's last number.
    prefix, suffix = reverse("beneficiary_detail", args=[0]).rsplit("0", 1)
    positive = format_html(' <span class="badge text-bg-success">{}</span>', _("sortie positive"))
    absent = format_html(' <span class="badge text-bg-warning">{}</span>', _("absent du dernier fichier"))
    no_data = format_html('<span class="text-body-secondary">{}</span>', _("aucune donnée"))
    anonymised = format_html(
        ' <span class="badge text-bg-secondary" title="{}">{}</span>',
        _("Durée de conservation dépassée : seules les données utiles aux statistiques sont gardées."),
        _("anonymisé"),
    )
    lines = []
    for row in page.rows:
        if row.has_followup:
            status = _esc(row.status)
            if row.status_detail:
                status += f"<br><small>{_esc(row.status_detail)}</small>"
            if row.positive_exit:
                status += positive
            if row.absent:
                status += absent
        else:
            status = no_data
        orientation = (
            f"{_esc(row.orientation_nature)} <small>({_esc(row.orientation_date)})</small>"
            if row.orientation_nature
            else "—"
        )
        first = ""
        if select:
            # The bulk form is below the table: the box belongs to it by its `form` attribute.
            first = (
                f'<td><input class="form-check-input row-choice" type="checkbox" name="beneficiaries" '
                f'value="{row.pk}" id="choix-{row.pk}" form="bulk-assign">'
                f'<label class="visually-hidden" for="choix-{row.pk}">{choose} {_esc(row.name)}</label></td>'
            )
        last = ""
        if cohort is not None:
            handling = getattr(row, "handling", None)
            link = _esc(f"{handle_prefix}{row.pk}{handle_suffix}?next={back}")
            if handling is not None:
                last = (
                    f'<td><span class="badge text-bg-success">{handled_word}</span> '
                    f"{_esc(handling.outcome.label)} <small>({handling.handled_at:%d/%m})</small> "
                    f'<a href="{link}" class="small">{_esc(_("modifier"))}</a></td>'
                )
            else:
                last = (
                    f'<td><a class="btn btn-outline-primary btn-sm" href="{link}">{handle_label}'
                    f'<span class="visually-hidden"> : {_esc(row.name)}</span></a></td>'
                )
        lines.append(
            f'<tr>{first}<td><a href="{prefix}{row.pk}{suffix}">{_esc(row.name)}</a>'
            f"{anonymised if row.anonymised else ''}</td>"
            f"<td>{_esc(row.birth_date)}</td>"
            f'<td><span class="font-monospace">{_cell(row.masked_nir)}</span></td>'
            f"<td>{_cell(commune_label(row.commune_code))}</td><td>{status}</td><td>{_cell(row.reference_date)}</td>"
            f"<td>{_cell(row.category)}</td><td>{_cell(row.structure)}</td><td>{_cell(row.last_contact)}</td>"
            f"<td>{orientation}</td>{last}</tr>"
        )
    return mark_safe("\n".join(lines))  # noqa: S308 (every value above is escaped)


@register.simple_tag
def timeline_entries(entries) -> str:
    """The <li> of a parcours' timeline (pages.timeline.Entry), newest first.

    Written here rather than in a template loop for the same reason as `list_rows`: two years
    of monthly changes are a few hundred values, and the template engine spent ~10 ms of
    every beneficiary page on them (docs/performance.md, "Pages").
    """
    positive = format_html(' <span class="badge text-bg-success">{}</span>', _("sortie positive"))
    table_head = format_html(
        '<table class="table table-sm w-auto mb-1"><caption class="visually-hidden">{}</caption><thead>'
        '<tr><th scope="col">{}</th><th scope="col">{}</th><th scope="col">{}</th></tr></thead><tbody>',
        _("Changements"),
        _("Donnée"),
        _("Avant"),
        _("Après"),
    )
    source_label = _esc(_("Source"))
    lines = []
    for entry in entries:
        day = (
            f'<time datetime="{entry.day:%Y-%m-%d}" class="fw-semibold">{entry.day:%d/%m/%Y}</time>'
            if entry.day
            else ""
        )
        parts = [
            f'<li class="timeline-entry timeline-{_esc(entry.kind)} border-start border-3 ps-3 pb-3">'
            f'<p class="mb-1">{day} — {_esc(entry.title)}{positive if entry.positive else ""}</p>'
        ]
        if entry.detail:
            parts.append(f'<p class="mb-1">{_esc(entry.detail)}</p>')
        if entry.changes:
            parts.append(table_head)
            parts.extend(
                f'<tr><th scope="row" class="fw-normal">{_esc(change.label)}</th>'
                f"<td>{_esc(change.before or '—')}</td><td>{_esc(change.after)}</td></tr>"
                for change in entry.changes
            )
            parts.append("</tbody></table>")
        parts.append(
            f'<p class="mb-0"><small class="text-body-secondary">{source_label} : '
            f"{_esc(entry.source)}</small></p></li>"
        )
        lines.append("".join(parts))
    return mark_safe("\n".join(lines))  # noqa: S308 (every value above is escaped)
