"""The rendered figures are cached per summary and shared between managers, never
with anything about the viewer in them; a new summary shows what changed."""

from __future__ import annotations

import re

import pytest

from reports import selectors, views
from tests.outage import DEAD_CACHE

pytestmark = pytest.mark.django_db


def created_figure(html: str) -> int:
    return int(re.search(r'data-figure="created">(\d+)<', html).group(1))


@pytest.fixture
def cached(settings):
    settings.REPORTS_CACHE_SECONDS = 60


def test_two_managers_share_the_figures_but_not_their_page(client, cached, make_ticket):
    from tests.conftest import make_agent

    alice = make_agent(3, manager=True, username="alice-mgr")
    bob = make_agent(3, manager=True, username="bob-mgr")
    make_ticket(subject="One")
    renders = []
    real = views.render_to_string
    views_render = lambda *a, **k: renders.append(a[0]) or real(*a, **k)  # noqa: E731

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(views, "render_to_string", views_render)
        client.force_login(alice)
        page_a = client.get("/dashboard/?range=7").content.decode()
        client.force_login(bob)
        page_b = client.get("/dashboard/?range=7&utm=x").content.decode()
    # The filter form and the figures: each rendered once, served twice.
    assert renders == [views.FILTERS_TEMPLATE, views.FIGURES_TEMPLATE]
    assert created_figure(page_a) == created_figure(page_b) == 1
    assert "alice-mgr" in page_a and "alice-mgr" not in page_b
    assert "bob-mgr" in page_b
    # The shared part carries no CSRF token and no trace of the raw query string.
    fragment = page_b[page_b.index('id="headline-title"') :]
    assert "csrfmiddlewaretoken" not in fragment
    assert "utm=" not in page_b[page_b.index("Whole dashboard as CSV") - 200 :]


def test_after_a_write_the_next_summary_shows_it(client, cached, manager, make_ticket, monkeypatch):
    make_ticket(subject="One")
    client.force_login(manager)
    assert created_figure(client.get("/dashboard/?range=7").content.decode()) == 1
    make_ticket(subject="Two")
    # Within the minute the page says which moment its figures are from…
    assert created_figure(client.get("/dashboard/?range=7").content.decode()) == 1
    # …once the minute is over, the next request has a worker recompute them (and is
    # served the old figures meanwhile, without waiting)…
    later = selectors.time.time() + 61
    monkeypatch.setattr(selectors.time, "time", lambda: later)
    assert created_figure(client.get("/dashboard/?range=7").content.decode()) == 1
    # …and the request after that shows the new ticket.
    assert created_figure(client.get("/dashboard/?range=7").content.decode()) == 2


def test_cache_outage_still_renders_the_dashboard(client, cached, manager, make_ticket, settings):
    settings.CACHES = DEAD_CACHE  # no Redis answers
    make_ticket(subject="One")
    client.force_login(manager)
    response = client.get("/dashboard/?range=7")
    assert response.status_code == 200
    assert created_figure(response.content.decode()) == 1


def test_category_filter_shows_a_category_written_after_it_was_cached(
    client, cached, manager, django_capture_on_commit_callbacks
):
    from tests.factories import CategoryFactory

    client.force_login(manager)
    first = CategoryFactory(name="Printers")
    assert ">Printers</option>" in client.get("/dashboard/?range=7").content.decode()
    # The writes bump the directory version when they commit.
    with django_capture_on_commit_callbacks(execute=True):
        added = CategoryFactory(name="Scanners")
        first.name = "Printers and copiers"
        first.save()
    html = client.get("/dashboard/?range=7").content.decode()
    assert f'<option value="{added.pk}">Scanners</option>' in html
    assert ">Printers and copiers</option>" in html
    assert ">Printers</option>" not in html
    with django_capture_on_commit_callbacks(execute=True):
        added.delete()
    assert ">Scanners</option>" not in client.get("/dashboard/?range=7").content.decode()
    # A category chosen by id still filters (and an unknown one is refused).
    assert client.get(f"/dashboard/?range=7&category={first.pk}").status_code == 200
    assert client.get(f"/dashboard/?range=7&category={added.pk}").status_code == 400
