import pytest


@pytest.fixture(autouse=True)
def _forget_rules():
    """Each test empties the cache, and under a frozen clock the rule counter restarts
    at the same value (it starts from the clock), so the process memo of the test
    before would look current: start each test without it."""
    from automation import engine

    engine._rules_memo._state = (None, 0.0, {})
    yield
