"""The living demo desk: ~90 days of ticket history and a live queue for ``seed_demo``.

``stories`` holds what the tickets say (per category, in plain words); ``history``
plays each ticket's life through the same clock, hand-off and explanation code the
services and the escalation engine use, and writes the rows in bulk.
"""
