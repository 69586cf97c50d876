from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from tickets.models import Category

from .models import Article


class ArticleForm(forms.Form):
    """Input for drafts and edits; the writes (and the rules) are in services."""

    title = forms.CharField(label=_("Title"), max_length=200)
    summary = forms.CharField(
        label=_("Summary"),
        max_length=400,
        required=False,
        help_text=_("One sentence shown in search results."),
    )
    body = forms.CharField(
        label=_("Body"),
        max_length=100000,
        widget=forms.Textarea(attrs={"rows": 18}),
        help_text=_("Markdown: headings, lists, tables, code blocks, images."),
    )
    category = forms.ModelChoiceField(
        label=_("Topic"),
        queryset=Category.objects.filter(is_active=True),
        required=False,
        empty_label=_("No topic"),
    )
    tags = forms.CharField(
        label=_("Tags"), max_length=400, required=False, help_text=_("Comma-separated.")
    )
    audience = forms.ChoiceField(label=_("Audience"), choices=Article.Audience.choices)
    min_tier = forms.TypedChoiceField(
        label=_("Lowest tier that may read it (internal articles)"),
        choices=[(1, _("Tier 1")), (2, _("Tier 2")), (3, _("Tier 3"))],
        coerce=int,
        initial=1,
    )
    change_note = forms.CharField(
        label=_("What changed"),
        max_length=300,
        required=False,
        help_text=_("Kept in the version history when a published article is edited."),
    )


class FeedbackForm(forms.Form):
    helpful = forms.TypedChoiceField(
        label=_("Was this helpful?"),
        choices=[("yes", _("Yes")), ("no", _("No"))],
        coerce=lambda v: v == "yes",
    )
    comment = forms.CharField(
        label=_("Anything we should add or fix? (optional)"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class SendBackForm(forms.Form):
    reason = forms.CharField(label=_("What needs to change"), max_length=1000)
