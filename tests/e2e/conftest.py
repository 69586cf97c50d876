# Browser and live-stack fixtures, shared by every journey in this folder.
from tests.e2e.stack import celery_stack, chromium, demo, new_page  # noqa: F401
