from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from .scopes import TokenScope


class ApiTokenCreateForm(forms.Form):
    EXPIRY_CHOICES = [
        ("30", _("30 days")),
        ("90", _("90 days")),
        ("365", _("1 year")),
        ("never", _("Never")),
    ]

    name = forms.CharField(
        label=_("Token name"),
        max_length=100,
        help_text=_("What will use it, e.g. “monitoring alerts”."),
    )
    expires_in = forms.ChoiceField(label=_("Expires after"), choices=EXPIRY_CHOICES)
    scopes = forms.MultipleChoiceField(
        label=_("What it may do"),
        choices=TokenScope.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=[TokenScope.READ],
        help_text=_("Give it only what it needs; it never gets more than you can do."),
        error_messages={"required": _("Choose at least one scope.")},
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The configured default lifetime is preselected (and offered if not listed).
        days = settings.API_TOKEN_DEFAULT_EXPIRY_DAYS
        default = str(days) if days > 0 else "never"
        field = self.fields["expires_in"]
        if default not in dict(field.choices):
            field.choices = [(default, _("%(n)s days") % {"n": days}), *field.choices]
        field.initial = default

    def clean_name(self) -> str:
        value = self.cleaned_data["name"].replace("\x00", "").strip()
        if not value:
            raise forms.ValidationError(_("Give the token a name."))
        return value
