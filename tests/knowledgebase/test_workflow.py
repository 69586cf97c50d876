"""draft → review → published → archived, who may do what, versions on publish."""

from __future__ import annotations

import pytest

from helpdesk.exceptions import ConflictError, DomainError, ForbiddenError
from knowledgebase import services
from knowledgebase.models import Article
from tests.factories import UserFactory


def draft_by(author, **kwargs):
    defaults = {"title": "Fix the docking station", "body": "Unplug it for ten seconds."}
    defaults.update(kwargs)
    return services.article_create_draft(author=author, **defaults)


def test_any_agent_writes_drafts_customers_do_not(agent1, customer):
    article = draft_by(agent1, tags="Dock, USB-C, dock")
    assert article.status == "draft" and article.author == agent1
    assert article.tags == ["dock", "usb-c"] and article.owning_tier == 1
    with pytest.raises(ForbiddenError):
        draft_by(customer)


def test_draft_validation_messages(agent1):
    with pytest.raises(DomainError, match="needs a title"):
        draft_by(agent1, title="  ")
    with pytest.raises(DomainError, match="own tier or below"):
        draft_by(agent1, audience="internal", min_tier=3)


def test_slugs_are_unique_and_never_shadow_kb_pages(agent1):
    first, second = draft_by(agent1), draft_by(agent1)
    assert first.slug == "fix-the-docking-station" and second.slug == "fix-the-docking-station-2"
    assert draft_by(agent1, title="Manage").slug == "manage-2"


def test_tier1_cannot_review_tier2_publishes_others_work(agent1, agent2):
    article = services.article_submit_for_review(actor=agent1, article=draft_by(agent1))
    with pytest.raises(ForbiddenError):
        services.article_publish(actor=agent1, article=article)
    article = services.article_publish(actor=agent2, article=article)
    assert article.status == "published" and article.reviewer == agent2
    assert article.published_at is not None


def test_author_cannot_approve_their_own_article_unless_manager(agent2, manager):
    article = services.article_submit_for_review(actor=agent2, article=draft_by(agent2))
    with pytest.raises(ForbiddenError, match="your own article"):
        services.article_publish(actor=agent2, article=article)
    own = services.article_submit_for_review(actor=manager, article=draft_by(manager))
    assert services.article_publish(actor=manager, article=own).status == "published"


def test_send_back_needs_a_reason_and_returns_to_draft(agent1, agent3):
    article = services.article_submit_for_review(actor=agent1, article=draft_by(agent1))
    with pytest.raises(DomainError, match="what needs to change"):
        services.article_send_back(actor=agent3, article=article, reason=" ")
    article = services.article_send_back(actor=agent3, article=article, reason="Add screenshots")
    assert (article.status, article.review_note) == ("draft", "Add screenshots")


def test_wrong_transitions_are_conflicts(agent1, agent2):
    article = draft_by(agent1)
    with pytest.raises(ConflictError):
        services.article_publish(actor=agent2, article=article)
    with pytest.raises(ConflictError):
        services.article_archive(actor=agent2, article=article)


def test_each_publish_keeps_a_version(agent1, agent2, agent3):
    article = services.article_submit_for_review(actor=agent1, article=draft_by(agent1))
    article = services.article_publish(actor=agent2, article=article)
    # A published article is edited by a reviewer who is not its author: a new version.
    with pytest.raises(ForbiddenError):
        services.article_update(actor=agent1, article=article, body="Sneaky change")
    services.article_update(
        actor=agent3, article=article, body="Unplug it for thirty seconds.", change_note="Longer"
    )
    versions = list(
        article.versions.order_by("number").values_list("number", "body", "change_note")
    )
    assert versions == [
        (1, "Unplug it for ten seconds.", "Published"),
        (2, "Unplug it for thirty seconds.", "Longer"),
    ]
    services.article_archive(actor=agent2, article=article)
    article = services.article_reopen(actor=agent2, article=article)
    services.article_submit_for_review(actor=agent2, article=article)
    services.article_publish(actor=agent3, article=article)
    assert article.versions.count() == 3


def test_workflow_through_the_pages(client, agent1, agent2):
    client.force_login(agent1)
    response = client.post(
        "/kb/manage/new/",
        {
            "title": "Reset the dock",
            "body": "Unplug <b>it</b>.",
            "audience": "public",
            "min_tier": 1,
        },
    )
    assert response.status_code == 302
    article = Article.objects.get(slug="reset-the-dock")
    client.post("/kb/manage/reset-the-dock/submit/")
    response = client.post("/kb/manage/reset-the-dock/publish/", follow=True)
    assert "Only Tier 2 and Tier 3 agents" in response.content.decode()
    client.force_login(agent2)
    client.post("/kb/manage/reset-the-dock/publish/")
    article.refresh_from_db()
    assert article.status == "published"
    assert client.post("/kb/manage/reset-the-dock/explode/").status_code == 404
    client.post(
        "/kb/manage/reset-the-dock/edit/",
        {
            "title": "Reset the dock",
            "body": "Unplug <script>it</script> for 30 s.",
            "audience": "public",
            "min_tier": 1,
            "change_note": "Timing",
        },
    )
    history = client.get("/kb/manage/reset-the-dock/history/").content.decode()
    assert "Version 2" in history and "compared with version 1" in history
    assert "+Unplug &lt;script&gt;it&lt;/script&gt; for 30 s." in history
    assert "-Unplug &lt;b&gt;it&lt;/b&gt;." in history
    assert "<script>" not in history


def test_a_resolved_ticket_seeds_a_draft(client, agent1, make_ticket):
    from tickets.services import core

    ticket = make_ticket(subject="Dock flickers", description="Screen flickers on the dock.")
    client.force_login(agent1)
    response = client.get(f"/kb/manage/new/?ticket={ticket.reference}", follow=True)
    assert "Only a resolved ticket can seed an article." in response.content.decode()
    core.ticket_claim(ticket=ticket, agent=agent1)
    core.ticket_resolve(ticket=ticket, actor=agent1, resolution="Updated the dock firmware.")
    page = client.get(f"/kb/manage/new/?ticket={ticket.reference}").content.decode()
    assert "Updated the dock firmware." in page and "Dock flickers" in page
    article = services.article_create_draft(
        author=agent1, title="Dock flickers", body="Update firmware.", source_ticket=ticket
    )
    assert article.source_ticket == ticket and article.status == "draft"


def test_owner_tier_for_other_authors(db):
    with pytest.raises(ForbiddenError):
        draft_by(UserFactory())
