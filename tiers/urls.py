app_name = "tiers"

# The vendor hand-off page (/vendor/<signed-token>/) is added by the escalation engine.
urlpatterns: list = []
