"""The dashboard as JSON or CSV: ``GET /api/v1/metrics/summary/`` (managers only)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from integrations.schema import error_responses
from integrations.scopes import TokenScope
from tiers.selectors import user_is_manager

from .exports import csv_text, summary_csv
from .forms import DashboardForm
from .selectors import dashboard_summary_cached
from .services import local_today


class SummaryCSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type=None, renderer_context=None) -> bytes:
        if isinstance(data, dict) and "headline" in data:
            text = summary_csv(data)
        else:  # an error: its messages, one per line
            items = data.items() if isinstance(data, dict) else [("detail", data)]
            text = csv_text(["field", "message"], ([k, str(v)] for k, v in items))
        response = (renderer_context or {}).get("response")
        if response is not None and response.status_code == 200:
            response["Content-Disposition"] = 'attachment; filename="tierdesk-summary.csv"'
        return text.encode("utf-8")


class MetricStatsSerializer(serializers.Serializer):
    """Durations in seconds; null when the group has no values."""

    count = serializers.IntegerField()
    mean = serializers.FloatField(allow_null=True)
    median = serializers.FloatField(allow_null=True)
    p90 = serializers.FloatField(allow_null=True)


def _stats() -> serializers.Serializer:
    return MetricStatsSerializer(allow_null=True)


class MetricsSummaryApi(APIView):
    """Every dashboard figure for a range; ``?format=csv`` for one long CSV."""

    renderer_classes = [JSONRenderer, SummaryCSVRenderer]
    token_scopes = {"GET": TokenScope.REPORTS_READ}

    class OutputSerializer(serializers.Serializer):
        filters = inline_serializer(
            "MetricFilters",
            {
                "start": serializers.DateField(),
                "end": serializers.DateField(),
                "category": serializers.IntegerField(allow_null=True),
                "priority": serializers.CharField(allow_null=True),
                "tier": serializers.IntegerField(allow_null=True),
            },
        )
        generated_at = serializers.DateTimeField()
        live_from = serializers.DateField(help_text="First day computed live (no rollup yet).")
        headline = inline_serializer(
            "MetricHeadline",
            {
                "created": serializers.IntegerField(),
                "resolved": serializers.IntegerField(),
                "open": serializers.IntegerField(),
                "open_sla_breached": serializers.IntegerField(),
                "reopened": serializers.IntegerField(),
                "tier1_resolution": inline_serializer(
                    "Tier1Resolution",
                    {
                        "rate": serializers.FloatField(allow_null=True),
                        "band": serializers.ChoiceField(["in", "below", "above", "none"]),
                        "text": serializers.CharField(),
                        "resolved": serializers.IntegerField(),
                        "escalated": serializers.IntegerField(),
                    },
                ),
                "first_contact_rate": serializers.FloatField(allow_null=True),
                "sla_breach_rate": serializers.FloatField(allow_null=True),
                "sla_breached": serializers.IntegerField(),
                "csat_average": serializers.FloatField(allow_null=True),
                "csat_responses": serializers.IntegerField(),
                "csat_response_rate": serializers.FloatField(allow_null=True),
                "pingpong": serializers.IntegerField(),
                "pingpong_rate": serializers.FloatField(allow_null=True),
            },
        )
        escalation_steps = serializers.ListField(child=serializers.DictField())
        backlog = serializers.DictField(child=serializers.ListField(child=serializers.DictField()))
        times = serializers.DictField(
            child=inline_serializer(
                "MetricTimes",
                {
                    "overall": _stats(),
                    "by_tier": serializers.DictField(child=_stats()),
                    "by_priority": serializers.DictField(child=_stats()),
                },
            ),
            help_text="resolution, first_response, tier_time; seconds.",
        )
        resolution_distribution = serializers.DictField()
        series = serializers.DictField()
        categories = serializers.ListField(child=serializers.DictField())
        per_tier = serializers.ListField(child=serializers.DictField())
        agents = serializers.ListField(child=serializers.DictField())
        articles = serializers.ListField(child=serializers.DictField())
        funnel = serializers.DictField()
        vendors = serializers.ListField(child=serializers.DictField())
        coaching = serializers.ListField(child=serializers.DictField())

    @extend_schema(
        operation_id="metrics_summary",
        parameters=[
            OpenApiParameter("range", str, enum=["7", "30", "90", "custom"]),
            OpenApiParameter("start", OpenApiTypes.DATE, description="With range=custom."),
            OpenApiParameter("end", OpenApiTypes.DATE, description="With range=custom."),
            OpenApiParameter("category", int),
            OpenApiParameter("priority", str, enum=["low", "normal", "high", "urgent"]),
            OpenApiParameter("tier", int, enum=[1, 2, 3, 4]),
            OpenApiParameter("format", str, enum=["json", "csv"]),
        ],
        responses={200: OutputSerializer, **error_responses(400, 401, 403, 429)},
        examples=[
            OpenApiExample(
                "Last 30 days (abridged)",
                response_only=True,
                status_codes=["200"],
                value={
                    "filters": {"start": "2026-10-28", "end": "2026-11-26", "category": None,
                                "priority": None, "tier": None},
                    "generated_at": "2026-11-26T09:00:00+00:00",
                    "live_from": "2026-11-26",
                    "headline": {
                        "created": 1216, "resolved": 1181, "open": 415, "open_sla_breached": 12,
                        "reopened": 9,
                        "tier1_resolution": {"rate": 0.7375, "band": "in",
                                             "text": "In the 70–80% target band",
                                             "resolved": 309, "escalated": 110},
                        "first_contact_rate": 0.2024, "sla_breach_rate": 0.0059,
                        "sla_breached": 7, "csat_average": 4.2, "csat_responses": 301,
                        "csat_response_rate": 0.2549, "pingpong": 3, "pingpong_rate": 0.01,
                    },
                    "escalation_steps": [{"step": "1→2", "from_tier": 1, "escalated": 110,
                                          "left_tier": 419, "rate": 0.2625}],
                    "times": {"resolution": {
                        "overall": {"count": 1181, "mean": 21480.0, "median": 14400.0,
                                    "p90": 61200.0},
                        "by_tier": {"1": {"count": 309, "mean": 9000.0, "median": 7200.0,
                                          "p90": 18000.0}},
                        "by_priority": {"urgent": None}}},
                },
            )
        ],
    )  # fmt: skip
    def get(self, request: Request) -> Response:
        if not user_is_manager(request.user):
            raise PermissionDenied("Metrics are for help-desk managers.")
        params = {k: v for k, v in request.query_params.items() if k != "format"}
        form = DashboardForm(params or {"range": "30"}, today=local_today())
        if not form.is_valid():
            # ``detail`` is one sentence; each invalid field also gets its messages.
            errors: dict[str, Any] = {k: v for k, v in form.errors.items() if k != "__all__"}
            errors["detail"] = " ".join(m for msgs in form.errors.values() for m in msgs)
            raise ValidationError(errors)
        return Response(dashboard_summary_cached(filters=form.filters()))
