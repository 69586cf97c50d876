"""The OpenAPI schema validates with no warnings, and the docs load without a CDN."""

from __future__ import annotations

import re

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_spectacular_validate_fail_on_warn(tmp_path):
    target = tmp_path / "schema.yaml"
    # Raises SchemaGenerationError on any warning or validation error.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    schema = yaml.safe_load(target.read_text())
    paths = schema["paths"]
    for path in [
        "/api/v1/tickets/",
        "/api/v1/tickets/{reference}/",
        "/api/v1/tickets/{reference}/comments/",
        "/api/v1/tickets/{reference}/claim/",
        "/api/v1/tickets/{reference}/escalate/",
        "/api/v1/tickets/{reference}/deescalate/",
        "/api/v1/tickets/{reference}/resolve/",
        "/api/v1/tickets/{reference}/status/",
        "/api/v1/tickets/{reference}/attachments/",
        "/api/v1/kb/articles/",
        "/api/v1/kb/articles/{slug}/",
        "/api/v1/kb/suggest/",
        "/api/v1/me/",
    ]:
        assert path in paths, path
    # Every operation of ours documents its success answer with an example, and its errors.
    for path, operations in paths.items():
        if not path.startswith(("/api/v1/tickets", "/api/v1/kb", "/api/v1/me")):
            continue
        for method, operation in operations.items():
            success = [c for c in operation["responses"] if c.startswith("2")]
            assert success, (method, path)
            assert any(
                "examples"
                in operation["responses"][c].get("content", {}).get("application/json", {})
                for c in success
            ), (method, path)
            assert "429" in operation["responses"], (method, path)
    assert schema["components"]["securitySchemes"]["tokenAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schema["components"]["securitySchemes"]["tokenAuth"]["description"],
    }


def test_schema_endpoint_serves_openapi_3(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")


def test_swagger_ui_loads_from_our_static_files(client, settings):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(s.startswith("/") for s in sources), sources
    assert any("drf_spectacular_sidecar/swagger-ui-dist" in s for s in sources)
    # Each file is one of our static files (collectstatic/whitenoise serve it in production).
    for source in sources:
        if source.startswith(settings.STATIC_URL):
            assert finders.find(source.removeprefix(settings.STATIC_URL)), source
    assert "cdn" not in html.lower()
