"""Every user sees times in their own zone; business calendars keep theirs."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from desk.middleware import SESSION_KEY
from desk.models import UserPreference
from tests.factories import UserFactory, make_agent
from tiers.business_time import add_business_time
from tiers.models import BusinessCalendar, WorkingHours
from tiers.selectors import calendar_spec_from

pytestmark = pytest.mark.django_db

NOON_UTC = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


@time_machine.travel(NOON_UTC, tick=False)
def test_a_customer_chooses_a_zone_and_sees_times_in_it(client, settings):
    settings.TIME_ZONE = "UTC"
    customer = UserFactory(username="cust")
    client.force_login(customer)
    page = client.get(reverse("preferences")).content.decode()
    assert "2026-07-01 12:00" in page and "in UTC" in page

    response = client.post(reverse("preferences"), {"time_zone": "Asia/Tokyo"}, follow=True)
    assert "Times are now shown in Asia/Tokyo." in response.content.decode()
    assert "2026-07-01 21:00" in response.content.decode()
    assert UserPreference.objects.get(user=customer).time_zone == "Asia/Tokyo"


@time_machine.travel(NOON_UTC, tick=False)
def test_the_zone_follows_the_user_to_a_new_login(client):
    agent = make_agent(1, username="tz-agent")
    UserPreference.objects.create(user=agent, time_zone="America/New_York")
    client.force_login(agent)
    assert client.session[SESSION_KEY] == "America/New_York"
    page = client.get(reverse("preferences")).content.decode()
    assert "2026-07-01 08:00" in page


def test_without_a_choice_the_site_zone_applies(client, settings):
    settings.TIME_ZONE = "Europe/Paris"
    client.force_login(UserFactory(username="plain"))
    response = client.get(reverse("preferences"))
    assert response.context["zone"] == "Europe/Paris"
    # Choosing "the help desk's zone" again clears the preference.
    client.post(reverse("preferences"), {"time_zone": "Asia/Tokyo"})
    client.post(reverse("preferences"), {"time_zone": ""})
    assert SESSION_KEY not in client.session
    assert client.get(reverse("preferences")).context["zone"] == "Europe/Paris"


def test_an_unknown_zone_is_a_400(client):
    client.force_login(UserFactory(username="typo"))
    response = client.post(reverse("preferences"), {"time_zone": "Mars/Olympus"})
    assert response.status_code == 400
    assert "Select a valid choice." in response.content.decode()
    assert not UserPreference.objects.exists()


def test_the_zone_is_not_left_active_after_the_request(client):
    client.force_login(UserFactory(username="tokyo"))
    client.post(reverse("preferences"), {"time_zone": "Asia/Tokyo"})
    client.get(reverse("preferences"))
    assert timezone.get_current_timezone_name() != "Asia/Tokyo"


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(reverse("preferences"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_business_calendars_keep_their_own_zone_whatever_the_viewer_uses():
    berlin = BusinessCalendar.objects.create(
        name="Berlin office", time_zone="Europe/Berlin", is_24x7=False
    )
    for weekday in range(5):
        WorkingHours.objects.create(calendar=berlin, weekday=weekday, start=time(9), end=time(17))
    spec = calendar_spec_from(berlin)
    start = datetime(2026, 7, 1, 14, 0, tzinfo=UTC)  # 16:00 in Berlin: one office hour left
    expected = datetime(2026, 7, 2, 8, 0, tzinfo=UTC)  # 10:00 next morning in Berlin
    assert add_business_time(spec, start, timedelta(hours=2)) == expected
    with timezone.override("Pacific/Auckland"):
        assert add_business_time(spec, start, timedelta(hours=2)) == expected


@time_machine.travel(NOON_UTC, tick=False)
def test_the_tracking_page_shows_the_readers_zone_even_when_cached(client, make_ticket):
    ticket = make_ticket()
    url = reverse("tickets:track", args=[ticket.tracking_token])
    assert "Jul 1, 12:00" in client.get(url).content.decode()  # cached in UTC
    reader = UserFactory(username="reader")
    UserPreference.objects.create(user=reader, time_zone="Asia/Tokyo")
    client.force_login(reader)
    assert "Jul 1, 21:00" in client.get(url).content.decode()


def test_anonymous_pages_do_not_vary_on_the_cookie_because_of_the_zone(client, rf):
    from django.contrib.sessions.backends.cache import SessionStore
    from django.http import HttpResponse

    from desk.middleware import UserTimeZoneMiddleware

    request = rf.get("/")
    request.session = SessionStore()
    UserTimeZoneMiddleware(lambda r: HttpResponse())(request)
    assert not request.session.accessed
