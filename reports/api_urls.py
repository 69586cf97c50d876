from django.urls import path

from .api import MetricsSummaryApi

urlpatterns = [
    path("metrics/summary/", MetricsSummaryApi.as_view(), name="metrics-summary"),
]
