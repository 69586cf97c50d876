"""Factories of the automation app's rows (rules and macros)."""

from __future__ import annotations

import factory

from automation.models import Macro, Trigger


class TriggerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Trigger
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Rule {n}")
    event_kinds = factory.LazyFunction(lambda: ["created"])

    @factory.post_generation
    def categories(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.categories.set(extracted)

    @factory.post_generation
    def notify_users(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.notify_users.set(extracted)


class MacroFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Macro

    name = factory.Sequence(lambda n: f"Macro {n}")
