"""factory_boy factories shared by every suite. State that matters (status, tier,
assignee) is made by services in the tests themselves, not by factories."""

from __future__ import annotations

from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from knowledgebase.models import Article
from tickets.models import Category, Ticket, TicketEvent
from tiers.models import AgentProfile, BusinessCalendar, EscalationPolicy, SLAPolicy, VendorContact


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.django.Password("pw")


class AgentProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AgentProfile
        django_get_or_create = ("user",)

    user = factory.SubFactory(UserFactory)
    tier = 1
    is_manager = False


def make_agent(tier: int = 1, *, manager: bool = False, username: str | None = None):
    user = UserFactory(username=username) if username else UserFactory()
    AgentProfileFactory(user=user, tier=tier, is_manager=manager)
    return user


class CalendarFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BusinessCalendar
        django_get_or_create = ("name",)

    name = "24×7"
    is_24x7 = True
    is_default = True


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")
    entry_tier = 1


class PolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EscalationPolicy
        django_get_or_create = ("tier", "priority")

    tier = 1
    priority = "normal"
    budget = timedelta(hours=8)


class SLAPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SLAPolicy
        django_get_or_create = ("priority",)

    priority = "normal"
    first_response = timedelta(hours=4)
    resolution = timedelta(days=3)


class VendorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = VendorContact

    name = "Dana Vendor"
    company = factory.Sequence(lambda n: f"Vendor {n} Ltd")
    email = factory.Sequence(lambda n: f"vendor{n}@vendor.example")


class ArticleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Article

    title = factory.Sequence(lambda n: f"Article {n}")
    slug = factory.Sequence(lambda n: f"article-{n}")
    summary = "A helpful article."
    body = "Some **helpful** text."
    status = Article.Status.PUBLISHED
    audience = Article.Audience.PUBLIC
    published_at = factory.LazyFunction(timezone.now)


class TicketFactory(factory.django.DjangoModelFactory):
    """A bare ticket row (for list/selector tests). Use ``tickets.services.ticket_create``
    when the clocks and the timeline matter."""

    class Meta:
        model = Ticket
        skip_postgeneration_save = True  # the hook writes the reference with an UPDATE

    subject = factory.Sequence(lambda n: f"Problem {n}")
    description = "Something is broken."
    category = factory.SubFactory(CategoryFactory)
    requester_name = "Pat Customer"
    requester_email = factory.Sequence(lambda n: f"customer{n}@example.com")

    @factory.post_generation
    def with_reference(obj, create, extracted, **kwargs):
        if create and not obj.reference:
            obj.reference = Ticket.reference_for(obj.pk)
            Ticket.objects.filter(pk=obj.pk).update(reference=obj.reference)


class TicketEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TicketEvent

    ticket = factory.SubFactory(TicketFactory)
    kind = TicketEvent.Kind.NOTE
    body = "note"
