from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class HandoffForm(forms.Form):
    """The agent's "Hand off to vendor" form (Tier 3 agents and managers)."""

    summary = forms.CharField(
        label=_("Summary for the vendor"),
        max_length=10000,
        widget=forms.Textarea,
        help_text=_("What is wrong, what we tried, what we need from the vendor."),
    )


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, list | tuple):
            return [super(MultipleFileField, self).clean(d, initial) for d in data]
        return [super().clean(data, initial)] if data else []


class VendorUpdateForm(forms.Form):
    body = forms.CharField(
        label=_("Your update"), max_length=20000, widget=forms.Textarea, required=False
    )
    vendor_reference = forms.CharField(
        label=_("Your ticket number"),
        max_length=80,
        required=False,
        help_text=_("Your own reference for this case, so both sides can find it."),
    )
    attachments = MultipleFileField(label=_("Attach files"), required=False)


class VendorDoneForm(forms.Form):
    note = forms.CharField(
        label=_("Closing note (optional)"), max_length=20000, widget=forms.Textarea, required=False
    )
