"""The error summary every form of the app shows after a refused submission.

templates/includes/error_summary.html renders it at the top of the page; it takes the focus
(`autofocus` and static/js/error-summary.js) and links to each field in error (`#id_field`).
"""

from __future__ import annotations

from django import template

register = template.Library()


@register.simple_tag
def error_summary_items(form=None, error: str = "", error_field: str = "") -> list[tuple[str, str]]:
    """(anchor, text) of each error: the id of the field to go to, "" for the form's own errors.

    `error` and `error_field`: a page whose error is not a form's (the second factor's code).
    A form may name where a field's error leads (`error_anchors`), for a field its template
    draws itself (the queue's checkboxes).
    """
    items = []
    if error:
        items.append((error_field, str(error)))
    if form is None or not form.errors:
        return items
    items += [("", str(message)) for message in form.non_field_errors()]
    anchors = getattr(form, "error_anchors", {})
    for field in form:
        if not field.errors:
            continue
        anchor = anchors.get(field.name) or ("" if field.is_hidden else field.id_for_label or "")
        for message in field.errors:
            items.append(
                (anchor, f"{field.label} : {message}" if field.label and not field.is_hidden else message)
            )
    # The summary takes the focus: a field's own autofocus would take it back.
    for field in form.fields.values():
        field.widget.attrs.pop("autofocus", None)
    return items
