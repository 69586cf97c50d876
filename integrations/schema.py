"""OpenAPI pieces shared by every API module: the token security scheme and the
documented error answers."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import serializers

from .scopes import TokenScope, required_scope


class ScopedAutoSchema(AutoSchema):
    """drf-spectacular's schema, plus the API token scope each operation needs: in
    ``x-token-scope`` for programs and in the description for people. (OpenAPI 3.0
    lists scopes in security requirements only for OAuth2, not for bearer tokens.)"""

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        scope = required_scope(self.view, method)
        operation["x-token-scope"] = scope
        note = (
            f"**API token scope:** `{scope}`."
            if scope
            else "Not available to API tokens (sessions only)."
        )
        description = operation.get("description", "")
        operation["description"] = f"{description}\n\n{note}" if description else note
        return operation


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "integrations.authentication.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "A personal API token from /accounts/tokens/: "
                "`Authorization: Bearer tdk_…` (`Token tdk_…` works too). A token acts as "
                "its user, limited to the scopes chosen when it was created; each "
                "operation names the scope it needs (`x-token-scope`), and a token "
                "without it gets 403 naming the missing scope. Scopes: "
                + "; ".join(f"`{s.value}` ({s.label.split(': ', 1)[1]})" for s in TokenScope)
                + "."
            ),
        }


# ---------------------------------------------------------------------------
# Shared error documentation for every API endpoint.
# ---------------------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    """``detail`` says what went wrong; invalid fields each get a list of messages."""

    detail = serializers.CharField(required=False)


_ERROR_TEXT = {
    400: ("Invalid input: a message per field.", {"subject": ["This field is required."]}),
    401: ("Not authenticated.", {"detail": "Authentication credentials were not provided."}),
    403: ("Not allowed for this user.", {"detail": "Only help-desk agents can do this."}),
    404: ("Not found, or not visible to this user.", {"detail": "Not found."}),
    409: ("Conflict: the ticket changed meanwhile.", {"detail": "TD-000042 was already claimed by agent2."}),
    429: ("Too many requests; see Retry-After.", {"detail": "Request was throttled. Expected available in 12 seconds."}),
}  # fmt: skip


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    responses = {}
    for code in codes:
        description, example = _ERROR_TEXT[code]
        responses[code] = OpenApiResponse(
            response=ErrorSerializer,
            description=description,
            examples=[
                OpenApiExample(f"{code}", value=example, response_only=True, status_codes=[code])
            ],
        )
    return responses
