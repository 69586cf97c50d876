"""Login page with single sign-on, the OpenID Connect endpoints, and logout.

Every refused sign-in is shown on the login page with its reason and an HTTP status
that says what kind of failure it was (400 a bad or replayed response, 403 a
refusal, 503 the provider unreachable); no refusal logs anyone in or out.
"""

from __future__ import annotations

from typing import Any

from django.contrib import auth
from django.contrib.auth import views as auth_views
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from helpdesk.views import LoginView as ProjectLoginView
from tiers.selectors import agent_profile_of, user_is_manager

from . import oidc
from .config import oidc_provider, oidc_providers, staff_sso_only
from .forms import IdentityAuthenticationForm
from .services import IdentityError

SSO_BACKEND = "identity.backends.SingleSignOnBackend"
_STATUS = {
    "provider_down": 503,
    "unverified_email": 403,
    "ambiguous_email": 403,
    "superuser": 403,
    "inactive": 403,
    "no_role": 403,
    "missing_email": 403,
}


def _sso_context() -> dict[str, Any]:
    return {
        "sso_providers": [{"slug": p.slug, "name": p.name} for p in oidc_providers()],
        "staff_sso_only": staff_sso_only(),
    }


class LoginView(ProjectLoginView):
    """The project's login (throttled, username or e-mail) with the providers' buttons."""

    form_class = IdentityAuthenticationForm

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), **_sso_context()}


def _safe_next(request: HttpRequest, value: str) -> str:
    if value and url_has_allowed_host_and_scheme(
        value, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return value
    return ""


def _refused(request: HttpRequest, error: IdentityError) -> HttpResponse:
    form = IdentityAuthenticationForm(request)
    context = {"form": form, "next": "", "sso_error": error.message, **_sso_context()}
    return render(request, "registration/login.html", context, status=_STATUS.get(error.code, 400))


@never_cache
@require_GET
def oidc_login(request: HttpRequest, slug: str) -> HttpResponse:
    provider = oidc_provider(slug)
    if provider is None:
        raise Http404("No such provider")
    next_url = _safe_next(request, request.GET.get("next", ""))
    try:
        return HttpResponseRedirect(oidc.authorization_url(request, provider, next_url=next_url))
    except IdentityError as error:
        return _refused(request, error)


def _landing(user: Any) -> str:
    if user_is_manager(user):
        return "/dashboard/"
    if agent_profile_of(user) is not None:
        return "/agent/"
    return "/"


@never_cache
@require_GET
def oidc_callback(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        user, provider, next_url, id_token = oidc.complete_login(request, slug)
    except IdentityError as error:
        return _refused(request, error)
    auth.login(request, user, backend=SSO_BACKEND)
    # After login(): it gives the session a new key and keeps what is stored here.
    request.session[oidc.SESSION_PROVIDER] = provider.slug
    request.session[oidc.SESSION_ID_TOKEN] = id_token
    return HttpResponseRedirect(_safe_next(request, next_url) or _landing(user))


class LogoutView(auth_views.LogoutView):
    """Django's logout (POST); after single sign-on it also ends the provider's
    session through its end-session endpoint (RP-initiated logout), when it has one."""

    # The setting's "home" is a namespaced name ("tickets:home") that reverse() misses.
    next_page = "/"

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        slug = request.session.get(oidc.SESSION_PROVIDER)
        id_token = request.session.get(oidc.SESSION_ID_TOKEN)
        end_session = (
            oidc.end_session_url(request, slug=slug, id_token=id_token)
            if slug and id_token
            else None
        )
        response = super().post(request, *args, **kwargs)
        if not end_session:
            return response
        # A page that moves on by itself, not a redirect: the CSP's form-action 'self'
        # forbids a form post (the Log out button) from redirecting to another origin.
        provider = oidc_provider(slug)
        return render(
            request,
            "identity/provider_logout.html",
            {"end_session_url": end_session, "provider_name": provider.name if provider else ""},
        )
