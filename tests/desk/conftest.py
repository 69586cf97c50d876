from __future__ import annotations

import pytest

from tests.factories import AgentProfileFactory, UserFactory


@pytest.fixture
def demo_manager(db):
    """Like seed_demo's ``manager``: staff, not superuser, a manager's agent profile."""
    user = UserFactory(username="manager", is_staff=True, is_superuser=False)
    AgentProfileFactory(user=user, tier=3, is_manager=True)
    return user


@pytest.fixture
def manager_client(client, demo_manager):
    client.force_login(demo_manager)
    return client
