"""Customer accounts: sign-up, e-mail verification (signed link), resend the link.

Login, logout and password reset/change are Django's auth views with our
templates (``templates/registration/``)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from helpdesk.exceptions import DomainError

from ..forms import SignupForm
from ..services import portal as portal_services
from .portal import rate_limit


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("tickets:my-tickets")
    form = SignupForm(request.POST or None)
    if request.method == "POST":
        limited = rate_limit(request, "signup")
        if limited:
            return limited
        if form.is_valid():
            data = form.cleaned_data
            done = {"email": data["email"]}
            if data.get("website"):  # honeypot: a bot; create nothing
                return render(request, "registration/signup_done.html", done)
            try:
                # A new account, or an address that already has one (its owner gets an
                # e-mail): the same page either way, and no login, so the answer never
                # tells which addresses have accounts.
                portal_services.account_signup(
                    name=data["name"], email=data["email"], password=data["password1"]
                )
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                return render(request, "registration/signup_done.html", done)
    return render(
        request, "registration/signup.html", {"form": form}, status=400 if form.errors else 200
    )


@require_GET
def verify(request: HttpRequest, token: str) -> HttpResponse:
    try:
        user, attached = portal_services.account_email_verify(token=token[:500])
    except DomainError as exc:
        return render(
            request, "registration/verify_failed.html", {"message": exc.message}, status=400
        )
    if request.user.is_authenticated and request.user.pk == user.pk:
        if attached:
            messages.success(
                request,
                _("Your e-mail address is confirmed. %(n)s earlier ticket(s) now appear here.")
                % {"n": attached},
            )
        else:
            messages.success(request, _("Your e-mail address is confirmed."))
        return redirect("tickets:my-tickets")
    return render(request, "registration/verify_done.html", {"attached": attached})


@require_POST
@login_required
def verify_resend(request: HttpRequest) -> HttpResponse:
    limited = rate_limit(request, "signup", email=request.user.email or "")
    if limited:
        return limited
    if portal_services.account_is_verified(request.user):
        messages.info(request, _("Your e-mail address is already confirmed."))
    elif request.user.email:
        portal_services.email_verification_send(user=request.user)
        messages.success(
            request, _("We sent a new link to %(email)s.") % {"email": request.user.email}
        )
    return redirect("tickets:my-tickets")
