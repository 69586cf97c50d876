import os

# Playwright's sync API runs an asyncio loop in the test thread; Django's ORM calls
# made by the test itself are still synchronous, so allow them here (e2e only).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
