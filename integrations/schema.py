"""Tells drf-spectacular how the token authentication looks in OpenAPI."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "integrations.authentication.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "A personal API token from /accounts/tokens/: "
                "`Authorization: Bearer tdk_…` (`Token tdk_…` works too)."
            ),
        }
