from __future__ import annotations

from datetime import timedelta

from django import forms, template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from helpdesk.templatetags.tierdesk import duration

register = template.Library()


@register.filter
def seconds(value: float | None) -> str:
    """Seconds as a short human duration (2h 05m, 3d 4h); an em dash when unknown."""
    if value is None or value == "":  # "" is a missing key in a template
        return "—"
    return duration(timedelta(seconds=float(value)))


@register.filter
def percent(value: float | None) -> str:
    """A 0–1 ratio as a percentage with one decimal; an em dash when undefined."""
    if value is None or value == "":
        return "—"
    return f"{float(value) * 100:.1f}%"


@register.filter
def get(mapping: dict, key: object) -> object:
    """``mapping[key]`` in a template (keys such as "1" or "urgent")."""
    if not isinstance(mapping, dict):
        return None
    return mapping.get(key if key in mapping else str(key))


SELECTED = mark_safe(" selected")  # a constant, no user text


@register.simple_tag
def filter_control(field: forms.BoundField) -> SafeString:
    """The control of one dashboard filter (a ``<select>`` or an ``<input>``), written
    directly instead of through Django's widget templates.

    The category list has ~50 options; rendering each through the widget templates
    cost more CPU than the rest of a cached dashboard request. Same markup (name, id,
    the chosen option, ``type="date"``), every text escaped by ``format_html``.
    """
    widget = field.field.widget
    invalid = (
        format_html(' aria-invalid="true" aria-describedby="{}_error"', field.auto_id)
        if field.errors
        else ""
    )
    if isinstance(widget, forms.Select):
        value = field.value()
        chosen = "" if value is None else str(value)
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            (
                (str(v), SELECTED if str(v) == chosen else "", label)
                for v, label in field.field.choices
            ),
        )
        return format_html(
            '<select name="{}" id="{}"{}>{}</select>',
            field.html_name,
            field.id_for_label,
            invalid,
            options,
        )
    value = widget.format_value(field.value())
    return format_html(
        '<input type="{}" name="{}" id="{}"{}{}>',
        widget.input_type,
        field.html_name,
        field.id_for_label,
        format_html(' value="{}"', value) if value not in (None, "") else "",
        invalid,
    )
