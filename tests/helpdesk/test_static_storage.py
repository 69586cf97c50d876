"""Static URLs are worked out once per process from the manifest."""

from __future__ import annotations

from helpdesk.storage import StaticStorage


def test_a_static_url_is_the_manifests_and_is_kept(tmp_path, settings):
    settings.STATIC_URL = "/static/"
    storage = StaticStorage(location=str(tmp_path), base_url="/static/")
    storage.hashed_files = {"css/site.css": "css/site.0123abcd.css"}
    assert storage.url("css/site.css") == "/static/css/site.0123abcd.css"
    storage.hashed_files = {"css/site.css": "css/site.ffffffff.css"}
    # The manifest of a running process does not change; the first answer is kept.
    assert storage.url("css/site.css") == "/static/css/site.0123abcd.css"
