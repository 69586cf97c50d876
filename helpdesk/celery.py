"""Celery application. Tasks are discovered in each app's ``tasks.py``.

Reliability settings (``acks_late``, ``reject_on_worker_lost``, JSON only) live in
settings under the ``CELERY_`` namespace.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

app = Celery("tierdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="helpdesk.ping", ignore_result=False)
def ping() -> str:
    """Round-trip check used by tests and the health endpoint's deep mode."""
    return "pong"
