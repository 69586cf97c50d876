"""The one role check of the manager pages and the generic list/form/delete views
they are built from. Every write goes through ``desk.services`` (audited)."""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.db import models
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from helpdesk.exceptions import DomainError
from tiers.selectors import user_is_manager

from ..services import audited_delete, audited_form_save

#: The sections of the manager pages, in the order of their navigation.
SECTIONS = [
    ("agents", gettext_lazy("Agents"), "desk:agents"),
    ("categories", gettext_lazy("Categories"), "desk:categories"),
    ("budgets", gettext_lazy("Escalation budgets"), "desk:budgets"),
    ("assignment", gettext_lazy("Auto-assignment"), "desk:assignment"),
    ("lifecycle", gettext_lazy("Ticket lifecycle"), "desk:lifecycle"),
    ("calendars", gettext_lazy("Calendars"), "desk:calendars"),
    ("sla", gettext_lazy("SLA policies"), "desk:sla"),
    ("vendors", gettext_lazy("Vendors"), "desk:vendors"),
    ("canned", gettext_lazy("Canned responses"), "desk:canned"),
    ("webhooks", gettext_lazy("Webhooks"), "desk:webhooks"),
    ("tokens", gettext_lazy("API tokens"), "desk:tokens"),
    ("audit", gettext_lazy("Audit log"), "desk:audit"),
]


class ManagerRequiredMixin(LoginRequiredMixin):
    """Managers only: anonymous visitors go to the login page, everyone else gets 403."""

    section: ClassVar[str] = ""

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not user_is_manager(request.user):
            raise PermissionDenied(_("These pages are for help-desk managers."))
        return super().dispatch(request, *args, **kwargs)

    def page(self, request: HttpRequest, template: str, context: dict, status: int = 200):
        sections = [(key, label, reverse(name)) for key, label, name in SECTIONS]
        context = {"sections": sections, "section": self.section, **context}
        return render(request, template, context, status=status)


def refused(view: ManagerRequiredMixin, request: HttpRequest, exc: DomainError, back: str):
    """A rule refused the change: say why, with the way back, and a 4xx."""
    return view.page(
        request, "desk/refused.html", {"message": exc.message, "back": back}, status=exc.status
    )


class ManagedListView(ManagerRequiredMixin, View):
    """A table of rows. ``columns``: (heading, attribute or callable of the row)."""

    title: ClassVar[str]
    intro: ClassVar[str] = ""
    columns: ClassVar[list[tuple[str, Any]]]
    new_url: ClassVar[str | None] = None
    edit_url: ClassVar[str | None] = None

    def queryset(self):
        raise NotImplementedError

    @staticmethod
    def cell(row: models.Model, accessor: Any) -> Any:
        value = accessor(row) if callable(accessor) else getattr(row, accessor)
        if isinstance(value, bool):
            return _("Yes") if value else _("No")
        return "—" if value in (None, "") else value

    def get(self, request: HttpRequest) -> HttpResponse:
        rows = [
            {
                "cells": [self.cell(row, accessor) for _heading, accessor in self.columns],
                "url": reverse(self.edit_url, args=[row.pk]) if self.edit_url else None,
                "name": str(row),
            }
            for row in self.queryset()[:500]
        ]
        context = {
            "title": self.title,
            "intro": self.intro,
            "headings": [heading for heading, _accessor in self.columns],
            "rows": rows,
            "new_url": reverse(self.new_url) if self.new_url else None,
        }
        return self.page(request, "desk/list.html", context)


class ManagedFormView(ManagerRequiredMixin, View):
    """Create (no ``pk``) or edit one object with a ModelForm; saved and audited by
    ``audited_form_save``. An invalid form answers 400 with the field messages."""

    model: ClassVar[type[models.Model]]
    form_class: ClassVar[type[ModelForm]]
    list_url: ClassVar[str]
    delete_url: ClassVar[str | None] = None
    noun: ClassVar[str]

    def get_object(self, pk: int | None) -> models.Model | None:
        return get_object_or_404(self.model, pk=pk) if pk is not None else None

    def make_form(self, request: HttpRequest, obj: models.Model | None) -> ModelForm:
        data = request.POST if request.method == "POST" else None
        return self.form_class(data, instance=obj)

    def extra_context(self, request: HttpRequest, obj: models.Model | None) -> dict:
        return {}

    def render_form(self, request, obj, form, status: int = 200) -> HttpResponse:
        title = (
            _("Edit %(noun)s “%(name)s”") % {"noun": self.noun, "name": obj}
            if obj
            else (_("New %(noun)s") % {"noun": self.noun})
        )
        context = {
            "title": title,
            "form": form,
            "object": obj,
            "list_url": reverse(self.list_url),
            "delete_url": reverse(self.delete_url, args=[obj.pk])
            if obj and self.delete_url
            else None,
            **self.extra_context(request, obj),
        }
        return self.page(request, "desk/form.html", context, status=status)

    def get(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        obj = self.get_object(pk)
        return self.render_form(request, obj, self.make_form(request, obj))

    def post(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        obj = self.get_object(pk)
        form = self.make_form(request, obj)
        if not form.is_valid():
            return self.render_form(request, obj, form, status=400)
        try:
            saved, entry = audited_form_save(form=form, actor=request.user)
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            return self.render_form(request, obj, form, status=exc.status)
        if entry is None:
            messages.info(request, _("Nothing changed."))
        else:
            messages.success(request, _("Saved “%(name)s”.") % {"name": saved})
        return redirect(self.success_url(saved))

    def success_url(self, obj: models.Model) -> str:
        return reverse(self.list_url)


class ManagedDeleteView(ManagerRequiredMixin, View):
    model: ClassVar[type[models.Model]]
    list_url: ClassVar[str]

    def back_url(self, obj: models.Model) -> str:
        return reverse(self.list_url)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        obj = get_object_or_404(self.model, pk=pk)
        back = self.back_url(obj)
        try:
            audited_delete(instance=obj, actor=request.user)
        except DomainError as exc:
            return refused(self, request, exc, back)
        messages.success(request, _("Deleted “%(name)s”.") % {"name": obj})
        return redirect(back)
