"""The bench raises the request rate limits the settings read from the environment."""

from __future__ import annotations

from bench.run import rate_limit_overrides

SETTINGS = """
TICKET_SUBMIT_RATE_LIMIT = env.int("TICKET_SUBMIT_RATE_LIMIT", default=10)
TICKET_SUBMIT_RATE_WINDOW = env.int("TICKET_SUBMIT_RATE_WINDOW_SECONDS", default=3600)
ANON = env.str("API_THROTTLE_ANON", default="30/min")
KB = env.int("KB_SUGGEST_PER_MINUTE", default=60)
LOGIN = env.int("LOGIN_FAILURE_LIMIT", default=5)
FILES = env.int("ATTACHMENT_MAX_FILES", default=5)
"""


def test_request_limits_are_raised_and_nothing_else():
    assert rate_limit_overrides(SETTINGS) == {
        "TICKET_SUBMIT_RATE_LIMIT": "100000000",
        "API_THROTTLE_ANON": "100000000/min",
        "KB_SUGGEST_PER_MINUTE": "100000000",
    }
