"""KB pages: public search and articles, authoring under /kb/manage/, gaps."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods, require_POST

from helpdesk.exceptions import DomainError
from helpdesk.ratelimit import client_ip, hit
from tickets.models import Ticket
from tickets.selectors import ticket_get_visible_to

from . import services
from .forms import ArticleForm, FeedbackForm, SendBackForm
from .models import Article
from .selectors import (
    article_get_visible_to,
    article_manage_list_visible_to,
    article_most_helpful,
    article_related,
    article_topics,
    article_version_diffs,
    kb_gaps,
    kb_search_page_pieces,
    user_is_kb_author,
    user_is_kb_reviewer,
    user_sees_kb_gaps,
    with_impact,
)

MAX_Q = 200


def staff_required(view: Callable) -> Callable:
    """Authoring is for help-desk staff; customers get 403."""

    @wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not user_is_kb_author(request.user):
            raise PermissionDenied("Writing articles is for help-desk staff.")
        return view(request, *args, **kwargs)

    return wrapper


# ---------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------


def index(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")[:MAX_Q].strip()
    topic = request.GET.get("topic", "")[:120]
    context: dict = {"query": query, "topic": None}
    if query:
        # Search-as-you-type (htmx) only swaps the results: no facet for it.
        topics_html, results_html = kb_search_page_pieces(
            user=request.user, query=query, limit=30, with_topics=not request.htmx
        )
        if request.htmx:
            return HttpResponse(results_html)
        context.update(topics_html=topics_html, results_html=results_html)
        return render(request, "knowledgebase/index.html", _with_roles(request, context))
    topics = article_topics(user=request.user)
    if topic:
        chosen = next((t for t in topics if t["slug"] == topic), None)
        if chosen is None:
            raise Http404("No such topic.")
        context["topic"] = chosen
        context["results"] = list(
            article_list_for_topic(request=request, topic_slug=topic).order_by("title")[:100]
        )
    else:
        context["most_helpful"] = article_most_helpful(user=request.user)
    context["topics"] = topics
    if request.htmx:
        return render(request, "knowledgebase/_results.html", context)
    return render(request, "knowledgebase/index.html", _with_roles(request, context))


def _with_roles(request: HttpRequest, context: dict) -> dict:
    context["is_author"] = user_is_kb_author(request.user)
    context["sees_gaps"] = user_sees_kb_gaps(request.user)
    return context


def article_list_for_topic(*, request: HttpRequest, topic_slug: str):
    from .selectors import article_list_visible_to

    return article_list_visible_to(user=request.user).filter(category__slug=topic_slug)


def article(request: HttpRequest, slug: str) -> HttpResponse:
    is_staff = user_is_kb_author(request.user)
    # Staff also see what the article resolved and deflected: one query either way.
    obj = article_get_visible_to(user=request.user, slug=slug, impact=is_staff)
    services.article_record_view(article=obj)
    query = request.GET.get("q", "")[:MAX_Q].strip()
    ticket_url = reverse("tickets:ticket-new") + "?" + urlencode({"subject": query or obj.title})
    return render(
        request,
        "knowledgebase/article.html",
        {
            "article": obj,
            "related": article_related(user=request.user, article=obj),
            "feedback_form": FeedbackForm(),
            "ticket_url": ticket_url,
            "is_staff": is_staff,
            "query": query,
        },
    )


@require_POST
def article_feedback(request: HttpRequest, slug: str) -> HttpResponse:
    obj = article_get_visible_to(user=request.user, slug=slug)
    # One vote per article per minute and address stops a script from inflating counts.
    limit = hit(f"kb-feedback:{obj.pk}:{client_ip(request)}", limit=3, window=60)
    if not limit.allowed:
        return render(request, "429.html", status=429)
    form = FeedbackForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose yes or no.")
        return redirect(obj.get_absolute_url())
    try:
        services.article_feedback_create(
            article=obj,
            helpful=form.cleaned_data["helpful"],
            comment=form.cleaned_data["comment"],
            user=request.user,
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Thank you for your feedback.")
    return redirect(obj.get_absolute_url())


# ---------------------------------------------------------------------------
# Authoring
# ---------------------------------------------------------------------------


def _manage_get(request: HttpRequest, slug: str) -> Article:
    return get_object_or_404(article_manage_list_visible_to(user=request.user), slug=slug)


@staff_required
def manage_list(request: HttpRequest) -> HttpResponse:
    qs = with_impact(article_manage_list_visible_to(user=request.user))
    mine = list(
        qs.filter(author=request.user, status__in=["draft", "review"]).order_by("-updated_at")[:50]
    )
    review = list(qs.filter(status=Article.Status.REVIEW).order_by("updated_at")[:50])
    published = list(qs.filter(status=Article.Status.PUBLISHED).order_by("-updated_at")[:50])
    drafts = list(qs.filter(status=Article.Status.DRAFT).order_by("-updated_at")[:50])
    archived = list(qs.filter(status=Article.Status.ARCHIVED).order_by("-updated_at")[:20])
    return render(
        request,
        "knowledgebase/manage/list.html",
        {
            "mine": mine,
            "review": review,
            "drafts": drafts,
            "published": published,
            "archived": archived,
            "is_reviewer": user_is_kb_reviewer(request.user),
            "sees_gaps": user_sees_kb_gaps(request.user),
        },
    )


def _source_ticket(request: HttpRequest, reference: str) -> Ticket | None:
    if not reference:
        return None
    ticket = ticket_get_visible_to(user=request.user, reference=reference[:20])
    if ticket.status not in Ticket.DONE_STATUSES:
        raise DomainError("Only a resolved ticket can seed an article.")
    return ticket


@staff_required
@require_http_methods(["GET", "POST"])
def article_new(request: HttpRequest) -> HttpResponse:
    reference = (request.POST.get("ticket") or request.GET.get("ticket") or "").strip()
    try:
        ticket = _source_ticket(request, reference)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("knowledgebase:manage")
    if request.method == "POST":
        form = ArticleForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            data.pop("change_note", None)
            try:
                obj = services.article_create_draft(
                    author=request.user, source_ticket=ticket, **data
                )
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                messages.success(request, "Draft saved. Submit it for review when it is ready.")
                return redirect("knowledgebase:manage-detail", slug=obj.slug)
    else:
        initial: dict = {"audience": "public", "min_tier": 1}
        if ticket is not None:
            initial.update(
                title=ticket.subject,
                category=ticket.category_id,
                body=(
                    f"## Symptom\n\n{ticket.description}\n\n## Solution\n\n"
                    f"{ticket.resolution or ''}\n"
                ),
            )
        else:
            initial["title"] = request.GET.get("title", "")[:200]
            category = request.GET.get("category", "")
            if category.isdigit():
                initial["category"] = int(category)
        form = ArticleForm(initial=initial)
    return render(
        request,
        "knowledgebase/manage/form.html",
        {"form": form, "article": None, "ticket": ticket},
    )


@staff_required
@require_http_methods(["GET", "POST"])
def article_edit(request: HttpRequest, slug: str) -> HttpResponse:
    obj = _manage_get(request, slug)
    if not services.article_can_edit(actor=request.user, article=obj):
        messages.error(
            request,
            "You cannot edit this article: published articles are edited by a reviewer "
            "other than the author, archived ones must be reopened first.",
        )
        return redirect("knowledgebase:manage-detail", slug=obj.slug)
    if request.method == "POST":
        form = ArticleForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            note = data.pop("change_note", "")
            try:
                services.article_update(actor=request.user, article=obj, change_note=note, **data)
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                messages.success(request, "Article saved.")
                return redirect("knowledgebase:manage-detail", slug=obj.slug)
    else:
        form = ArticleForm(
            initial={
                "title": obj.title,
                "summary": obj.summary,
                "body": obj.body,
                "category": obj.category_id,
                "tags": ", ".join(str(t) for t in obj.tags or []),
                "audience": obj.audience,
                "min_tier": obj.min_tier,
            }
        )
    return render(
        request, "knowledgebase/manage/form.html", {"form": form, "article": obj, "ticket": None}
    )


@require_POST
@staff_required
def article_preview(request: HttpRequest) -> HttpResponse:
    """The body as readers will see it (sanitized), for the editor's live preview."""
    body = request.POST.get("body", "")[:100000]
    return render(request, "knowledgebase/manage/_preview.html", {"body": body})


@staff_required
def manage_detail(request: HttpRequest, slug: str) -> HttpResponse:
    obj = _manage_get(request, slug)
    obj = (
        with_impact(Article.objects.filter(pk=obj.pk))
        .select_related("category", "author", "reviewer", "source_ticket")
        .get()
    )
    return render(
        request,
        "knowledgebase/manage/detail.html",
        {
            "article": obj,
            "can_edit": services.article_can_edit(actor=request.user, article=obj),
            "can_publish": services.article_can_publish(actor=request.user, article=obj),
            "is_reviewer": user_is_kb_reviewer(request.user),
            "is_author": obj.author_id == request.user.pk,
            "send_back_form": SendBackForm(),
            "version_count": obj.versions.count(),
        },
    )


ACTIONS: dict[str, tuple[Callable, str]] = {
    "submit": (
        lambda user, a, post: services.article_submit_for_review(actor=user, article=a),
        "Submitted for review.",
    ),
    "publish": (
        lambda user, a, post: services.article_publish(actor=user, article=a),
        "Published: customers and agents can read it now.",
    ),
    "send-back": (
        lambda user, a, post: services.article_send_back(
            actor=user, article=a, reason=post.get("reason", "")[:1000]
        ),
        "Sent back to draft.",
    ),
    "archive": (
        lambda user, a, post: services.article_archive(actor=user, article=a),
        "Archived: nobody sees it in the KB any more.",
    ),
    "reopen": (
        lambda user, a, post: services.article_reopen(actor=user, article=a),
        "Reopened as a draft.",
    ),
}


@require_POST
@staff_required
def article_action(request: HttpRequest, slug: str, action: str) -> HttpResponse:
    obj = _manage_get(request, slug)
    if action not in ACTIONS:
        raise Http404("No such action.")
    run, done = ACTIONS[action]
    try:
        run(request.user, obj, request.POST)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done)
    return redirect("knowledgebase:manage-detail", slug=obj.slug)


@staff_required
def article_history(request: HttpRequest, slug: str) -> HttpResponse:
    obj = _manage_get(request, slug)
    return render(
        request,
        "knowledgebase/manage/history.html",
        {"article": obj, "diffs": article_version_diffs(article=obj)},
    )


@login_required
def gaps(request: HttpRequest) -> HttpResponse:
    if not user_sees_kb_gaps(request.user):
        raise PermissionDenied("The KB-gap list is for Tier 3 agents and managers.")
    return render(request, "knowledgebase/gaps.html", {"entries": kb_gaps(user=request.user)})
