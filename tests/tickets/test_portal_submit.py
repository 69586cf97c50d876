"""The submit form: anonymous and logged-in, validation next to each field, uploads,
double submit, abuse limits, and the KB suggestions (deflection log)."""

from __future__ import annotations

import re
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.factories import ArticleFactory
from tickets.models import Attachment, Deflection, Ticket, TicketEvent

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n%test\n"
NEW = "/tickets/new/"


@pytest.fixture(autouse=True)
def _own_cache(settings):
    """Rate-limit counters in a private in-memory cache, fresh for each test."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"portal-{uuid.uuid4().hex}",
        }
    }


@pytest.fixture
def form_data(policies, category):
    def _data(**overrides):
        data = {
            "name": "Pat Customer",
            "email": "Pat@Example.com",
            "category": str(category.pk),
            "subject": "Laptop does not start",
            "description": "Since this morning my laptop shows a black screen.",
            "urgency": "high",
            "impact": "medium",
            "website": "",
            "submission_key": uuid.uuid4().hex,
        }
        data.update(overrides)
        return data

    return _data


def _token_from(response) -> str:
    return response.url.rstrip("/").rsplit("/", 1)[1]


def test_anonymous_submission_creates_ticket_confirmation_and_email(
    client, form_data, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(NEW, form_data())
    assert response.status_code == 302
    ticket = Ticket.objects.get()
    assert ticket.requester is None
    assert ticket.requester_email == "pat@example.com"
    assert ticket.priority == "high"  # "I cannot work" + "My team"
    assert response.url == reverse("tickets:ticket-submitted", args=[ticket.tracking_token])

    page = client.get(response.url)
    assert ticket.reference in page.content.decode()
    assert f"/tickets/track/{ticket.tracking_token}/" in page.content.decode()

    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["pat@example.com"]
    assert ticket.reference in mail.subject
    assert ticket.reference in mail.body and ticket.tracking_token in mail.body
    html = mail.alternatives[0][0]
    assert ticket.tracking_token in html and "we have received your request" in html.lower()


def test_logged_in_form_is_prefilled_and_ticket_belongs_to_account(client, customer, form_data):
    client.force_login(customer)
    page = client.get(NEW).content.decode()
    assert 'value="customer@example.com"' in page
    # The e-mail field is the account's: a different posted address is ignored.
    response = client.post(NEW, form_data(email="someone@else.example"))
    assert response.status_code == 302
    ticket = Ticket.objects.get()
    assert ticket.requester == customer
    assert ticket.requester_email == "customer@example.com"


@pytest.mark.parametrize("spelling", ["+{pk}", " {pk}", "{pk}.0", "\u0660{pk}", "{pk}\u00b2"])
def test_a_category_is_only_its_listed_id(client, form_data, category, spelling):
    response = client.post(NEW, form_data(category=spelling.format(pk=category.pk)))
    assert response.status_code == 400
    assert "Choose one of the listed categories." in response.content.decode()
    assert not Ticket.objects.exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "   ", "Tell us your name."),
        ("email", "not-an-email", "Enter a valid email address."),
        ("category", "999999", "Choose one of the listed categories."),
        ("subject", "", "Give your ticket a short subject."),
        ("description", "short", "10 characters at least"),
        ("urgency", "apocalyptic", "Choose one of the three answers."),
        ("impact", "", "Choose who is affected."),
    ],
)
def test_each_error_is_shown_next_to_its_field_and_nothing_is_saved(
    client, form_data, field, value, message
):
    data = form_data(**{field: value})
    response = client.post(NEW, data)
    assert response.status_code == 400
    html = response.content.decode()
    error_id = f"id_{field}_error"
    match = re.search(rf'<ul class="errorlist" id="{error_id}">(.*?)</ul>', html, re.S)
    assert match, f"no error list for {field}"
    assert message in match.group(1)
    if field not in ("urgency", "impact"):  # radio groups: the fieldset is described
        assert re.search(rf'aria-invalid="true"[^>]*aria-describedby="[^"]*{error_id}', html) or (
            re.search(rf'aria-describedby="[^"]*{error_id}"[^>]*aria-invalid="true"', html)
        )
    else:
        assert f'aria-describedby="{error_id}"' in html
    # What was typed is kept.
    if field != "subject":
        assert "Laptop does not start" in html
    assert Ticket.objects.count() == 0
    assert TicketEvent.objects.count() == 0


def test_refused_attachment_keeps_text_says_choose_files_again_and_saves_nothing(
    client, form_data, settings
):
    settings.ATTACHMENT_MAX_BYTES = 100
    big = SimpleUploadedFile("scan.pdf", PDF + b"x" * 200, content_type="application/pdf")
    response = client.post(NEW, {**form_data(), "attachments": [big]})
    assert response.status_code == 400
    html = response.content.decode()
    assert "scan.pdf is larger than" in html
    assert "choose your attachments again" in html
    assert "Since this morning my laptop shows a black screen." in html
    assert Ticket.objects.count() == 0 and Attachment.objects.count() == 0


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("run.exe", b"MZ\x90\x00", "files of this type are not accepted"),
        ("page.html", b"<html></html>", "files of this type are not accepted"),
        ("evil.png", b"<!doctype html><script>alert(1)</script>", "does not look like a .png"),
        ("notes.txt", b"<script>alert(1)</script>", "does not look like a plain text file"),
    ],
)
def test_forbidden_types_and_disguised_html_are_refused(client, form_data, name, content, message):
    upload = SimpleUploadedFile(name, content, content_type="image/png")
    response = client.post(NEW, {**form_data(), "attachments": [upload]})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Ticket.objects.count() == 0 and Attachment.objects.count() == 0


def test_too_many_files_are_refused(client, form_data, settings):
    settings.ATTACHMENT_MAX_FILES = 2
    files = [SimpleUploadedFile(f"s{i}.png", PNG, content_type="image/png") for i in range(3)]
    response = client.post(NEW, {**form_data(), "attachments": files})
    assert response.status_code == 400
    assert "Attach at most 2 files." in response.content.decode()
    assert Ticket.objects.count() == 0


def test_several_attachments_are_stored_with_the_ticket(client, form_data, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    files = [
        SimpleUploadedFile("screen.png", PNG, content_type="image/png"),
        SimpleUploadedFile("report.pdf", PDF, content_type="application/pdf"),
    ]
    response = client.post(NEW, {**form_data(), "attachments": files})
    assert response.status_code == 302
    ticket = Ticket.objects.get()
    names = sorted(ticket.attachments.values_list("original_name", flat=True))
    assert names == ["report.pdf", "screen.png"]
    created = ticket.events.get(kind=TicketEvent.Kind.CREATED)
    assert created.attachments.count() == 2
    for attachment in ticket.attachments.all():
        assert attachment.file.name.startswith("attachments/")
        assert "screen" not in attachment.file.name  # stored under a random name


def test_attachment_failing_inside_the_transaction_leaves_no_ticket(
    policies, category, settings, tmp_path, monkeypatch
):
    """A storage failure after the ticket row was written rolls everything back."""
    settings.MEDIA_ROOT = tmp_path
    from tickets.services import portal as portal_services

    def broken(**kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(portal_services, "attachment_add", broken)
    upload = SimpleUploadedFile("screen.png", PNG, content_type="image/png")
    with pytest.raises(OSError):
        portal_services.ticket_submit(
            category=category,
            subject="s",
            description="a description",
            requester_name="Pat",
            requester_email="pat@example.com",
            uploads=[upload],
        )
    assert Ticket.objects.count() == 0 and TicketEvent.objects.count() == 0


def test_failure_after_files_were_stored_leaves_no_row_and_no_file(
    policies, category, settings, tmp_path, monkeypatch
):
    settings.MEDIA_ROOT = tmp_path
    from tickets.services import portal as portal_services

    real_add = portal_services.attachment_add
    calls = []

    def second_fails(**kwargs):
        calls.append(kwargs["upload"].name)
        if len(calls) == 2:
            raise OSError("disk full")
        return real_add(**kwargs)

    monkeypatch.setattr(portal_services, "attachment_add", second_fails)
    uploads = [
        SimpleUploadedFile("one.png", PNG, content_type="image/png"),
        SimpleUploadedFile("two.png", PNG, content_type="image/png"),
    ]
    with pytest.raises(OSError):
        portal_services.ticket_submit(
            category=category,
            subject="s",
            description="a description",
            requester_name="Pat",
            requester_email="pat@example.com",
            uploads=uploads,
        )
    assert Ticket.objects.count() == 0 and Attachment.objects.count() == 0
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_double_submit_creates_one_ticket(
    client, form_data, mailoutbox, django_capture_on_commit_callbacks
):
    data = form_data()
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(NEW, data)
        second = client.post(NEW, data)
    assert first.status_code == second.status_code == 302
    assert first.url == second.url
    assert Ticket.objects.count() == 1
    assert len(mailoutbox) == 1


def test_reused_submission_key_with_another_email_does_not_reveal_the_ticket(client, form_data):
    data = form_data()
    first = client.post(NEW, data)
    token = _token_from(first)
    response = client.post(NEW, {**data, "email": "mallory@example.com"})
    assert response.status_code == 400
    assert token not in response.content.decode()
    assert "This form was already used" in response.content.decode()
    assert Ticket.objects.count() == 1


def test_honeypot_pretends_success_and_keeps_nothing(client, form_data):
    response = client.post(NEW, form_data(website="http://spam.example"))
    assert response.status_code == 200
    assert "We will be in touch" in response.content.decode()
    assert Ticket.objects.count() == 0


def test_submissions_over_the_limit_get_a_readable_429(client, form_data, settings):
    settings.PORTAL_SUBMIT_LIMIT_PER_IP = 2
    for _ in range(2):
        assert client.post(NEW, form_data()).status_code == 302
    response = client.post(NEW, form_data())
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "Too many requests" in response.content.decode()
    assert Ticket.objects.count() == 2


def test_submissions_per_email_are_limited_across_addresses(client, form_data, settings):
    settings.PORTAL_SUBMIT_LIMIT_PER_EMAIL = 1
    assert client.post(NEW, form_data()).status_code == 302
    # Another IP, same e-mail.
    response = client.post(NEW, form_data(), REMOTE_ADDR="10.9.8.7")
    assert response.status_code == 429
    assert client.post(NEW, form_data(email="other@example.com")).status_code == 302


# ---------------------------------------------------------------------------
# Deflection: suggestions while typing
# ---------------------------------------------------------------------------


@pytest.fixture
def vpn_article(db):
    return ArticleFactory(
        title="Connect to the VPN from home", slug="vpn-home", summary="Set up the VPN client."
    )


def test_suggest_partial_lists_matching_public_articles_and_logs_them(client, vpn_article):
    ArticleFactory(title="VPN internals", slug="vpn-internal", audience="internal")
    ArticleFactory(title="VPN draft", slug="vpn-draft", status="draft")
    session = "sess_" + uuid.uuid4().hex
    response = client.get(
        "/tickets/new/suggest/",
        {"subject": "VPN broken", "description": "cannot connect", "submission_key": session},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "Connect to the VPN from home" in html
    assert "VPN internals" not in html and "VPN draft" not in html
    assert f"/tickets/new/open/{session}/vpn-home/" in html
    assert list(Deflection.objects.values_list("session_key", "article__slug")) == [
        (session, "vpn-home")
    ]
    # Shown again: still one row.
    client.get("/tickets/new/suggest/", {"subject": "VPN", "submission_key": session})
    assert Deflection.objects.count() == 1


def test_suggest_is_capped_at_five(client):
    for i in range(8):
        ArticleFactory(title=f"Printer problem {i}", slug=f"printer-{i}")
    response = client.get("/tickets/new/suggest/", {"subject": "printer jammed"})
    assert response.content.decode().count("<li>") == 5


def test_opening_a_suggestion_redirects_and_counts_as_deflected_without_ticket(client, vpn_article):
    session = uuid.uuid4().hex
    client.get("/tickets/new/suggest/", {"subject": "VPN down", "submission_key": session})
    response = client.get(f"/tickets/new/open/{session}/vpn-home/")
    assert response.status_code == 302 and response.url == "/kb/vpn-home/"
    row = Deflection.objects.get(session_key=session)
    assert row.opened_at is not None and row.ticket is None  # a deflected ticket


def test_open_redirect_refuses_internal_articles(client):
    ArticleFactory(title="Secret", slug="secret", audience="internal")
    assert client.get(f"/tickets/new/open/{uuid.uuid4().hex}/secret/").status_code == 404


KB_SHOWN_OOB = '<input type="hidden" id="kb-shown" name="kb_shown" value="1" hx-swap-oob="true">'


def test_submitting_after_opening_links_the_session_and_tells_tier1(client, form_data, vpn_article):
    data = form_data(subject="VPN broken again")
    session = data["submission_key"]
    shown = client.get(
        "/tickets/new/suggest/", {"subject": "VPN broken", "submission_key": session}
    )
    # The partial marks the form (out of band) as having shown suggestions...
    assert KB_SHOWN_OOB in shown.content.decode()
    client.get(f"/tickets/new/open/{session}/vpn-home/")
    # ...and the browser posts that mark with the form.
    assert client.post(NEW, {**data, "kb_shown": "1"}).status_code == 302
    ticket = Ticket.objects.get()
    assert Deflection.objects.get(session_key=session).ticket == ticket
    note = ticket.events.get(kind=TicketEvent.Kind.NOTE)
    assert not note.is_public
    assert "Connect to the VPN from home" in note.body
    created = ticket.events.get(kind=TicketEvent.Kind.CREATED)
    assert created.data["kb_opened"] == ["vpn-home"]


def test_form_works_without_javascript_and_shows_suggestions_when_reshown(
    client, form_data, vpn_article
):
    page = client.get(NEW).content.decode()
    assert 'hx-get="/tickets/new/suggest/"' in page
    assert "keyup changed delay:400ms" in page
    assert '<input type="hidden" id="kb-shown" name="kb_shown" value="">' in page
    data = form_data(subject="VPN client broken", description="short")
    response = client.post(NEW, data)
    assert response.status_code == 400
    html = response.content.decode()
    assert "Connect to the VPN from home" in html
    # The suggestions shown with the errors count as shown when the form is sent again.
    assert '<input type="hidden" id="kb-shown" name="kb_shown" value="1">' in html
    assert KB_SHOWN_OOB not in html  # no second input outside the form
    fixed = {**data, "description": "The VPN client says the certificate expired.", "kb_shown": "1"}
    assert client.post(NEW, fixed).status_code == 302
    created = Ticket.objects.get().events.get(kind=TicketEvent.Kind.CREATED)
    assert created.data["kb_shown"] == ["vpn-home"]


def test_suggestions_without_a_session_do_not_mark_the_form(client, vpn_article):
    html = client.get("/tickets/new/suggest/", {"subject": "VPN broken"}).content.decode()
    assert "Connect to the VPN from home" in html and KB_SHOWN_OOB not in html


def test_a_form_without_the_mark_is_not_looked_up_in_the_deflection_log(
    client, form_data, vpn_article, django_assert_max_num_queries
):
    data = form_data(subject="VPN broken again")
    session = data["submission_key"]
    client.get("/tickets/new/suggest/", {"subject": "VPN broken", "submission_key": session})
    # Cold: the escalation policy, calendar, SLA policy and the automation rules are
    # read once per process (4 of 12).
    with django_assert_max_num_queries(12) as ctx:
        assert client.post(NEW, data).status_code == 302
    assert not any("tickets_deflection" in q["sql"] for q in ctx.captured_queries)
    # Its suggestions stay unlinked (shown, no ticket), as for a customer who left.
    assert Deflection.objects.get(session_key=session).ticket is None


def test_failing_suggestion_search_never_breaks_the_form(client, monkeypatch):
    from tickets.views import portal as portal_views

    def broken(**kwargs):
        raise RuntimeError("search index missing")

    monkeypatch.setattr(portal_views, "article_suggest", broken)
    response = client.get("/tickets/new/suggest/", {"subject": "anything at all"})
    assert response.status_code == 200
    assert response.content.decode().strip() == ""


def test_home_has_search_categories_and_submit(client, category):
    html = client.get("/").content.decode()
    assert 'action="/kb/"' in html and 'name="q"' in html
    assert category.name in html
    assert "Submit a ticket" in html
