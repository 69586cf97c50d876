"""OpenAPI pieces shared by every API module: the token security scheme and the
documented error answers."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import serializers


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
