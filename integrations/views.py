"""The user's API token page: create (the secret is shown once), list, revoke."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from helpdesk.exceptions import DomainError

from .forms import ApiTokenCreateForm
from .selectors import api_tokens_of
from .services import api_token_create, api_token_revoke


@never_cache  # the response to a create carries the secret: no cache may keep it
@login_required
@require_http_methods(["GET", "POST"])
def token_list(request: HttpRequest) -> HttpResponse:
    new_secret = None
    new_token = None
    if request.method == "POST":
        form = ApiTokenCreateForm(request.POST)
        if form.is_valid():
            days = form.cleaned_data["expires_in"]
            expires_at = None if days == "never" else timezone.now() + timedelta(days=int(days))
            try:
                new_token, new_secret = api_token_create(
                    user=request.user,
                    name=form.cleaned_data["name"],
                    scopes=form.cleaned_data["scopes"],
                    expires_at=expires_at,
                    never_expires=days == "never",
                )
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                form = ApiTokenCreateForm()
    else:
        form = ApiTokenCreateForm()
    context = {
        "form": form,
        "tokens": api_tokens_of(user=request.user)[:100],
        "new_secret": new_secret,
        "new_token": new_token,
        "now": timezone.now(),
    }
    return render(request, "integrations/tokens.html", context)


@login_required
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token = api_token_revoke(user=request.user, token_id=token_id)
    messages.success(
        request,
        _("Token “%(name)s” revoked. Requests using it are now refused.") % {"name": token.name},
    )
    return redirect("integrations:tokens")
