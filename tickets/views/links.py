"""Links and choice labels of the agent pages, built once per process.

A ticket page has ~30 links and each ``reverse()`` costs ~0.1 ms; ``get_FOO_display()``
hashes every lazy label of the field's choices on each call.
"""

from __future__ import annotations

from functools import cache
from typing import Any
from urllib.parse import quote

from django.urls import get_script_prefix, reverse
from django.utils import translation
from django.utils.http import RFC3986_SUBDELIMS

#: Placeholders that every converter accepts (``<int:pk>`` needs digits).
_INT_MARK = "8675309012345"
_STR_MARK = "zz--placeholder--zz"


@cache
def _url_template(prefix: str, name: str, kwarg: str, mark: str) -> str:
    return reverse(name, kwargs={kwarg: mark})


def url_for(name: str, kwarg: str, value: Any) -> str:
    """``reverse(name, kwargs={kwarg: value})`` for one-argument URLs, from a template
    reversed once per process and script prefix; values quoted as reverse() does."""
    if isinstance(value, str) and "/" in value:
        return reverse(name, kwargs={kwarg: value})  # let the resolver refuse it
    mark = _INT_MARK if isinstance(value, int) else _STR_MARK
    template = _url_template(get_script_prefix(), name, kwarg, mark)
    return template.replace(mark, quote(str(value), safe=RFC3986_SUBDELIMS + "/~:@"), 1)


@cache
def _labels(language: str | None, choices: type) -> dict[str, str]:
    return {value: str(label) for value, label in choices.choices}


def labels(choices: type) -> dict[str, str]:
    """``{value: label}`` of a TextChoices class in the active language."""
    return _labels(translation.get_language(), choices)
