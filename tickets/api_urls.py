from django.urls import path

from . import api

# ``<str:reference>``: the view checks the TD-000123 shape and answers 404 otherwise.
urlpatterns = [
    path("me/", api.MeApi.as_view(), name="api-me"),
    path("tickets/", api.TicketListApi.as_view(), name="api-tickets"),
    path("tickets/<str:reference>/", api.TicketDetailApi.as_view(), name="api-ticket"),
    path(
        "tickets/<str:reference>/comments/",
        api.TicketCommentsApi.as_view(),
        name="api-ticket-comments",
    ),
    path("tickets/<str:reference>/claim/", api.TicketClaimApi.as_view(), name="api-ticket-claim"),
    path(
        "tickets/<str:reference>/escalate/",
        api.TicketEscalateApi.as_view(),
        name="api-ticket-escalate",
    ),
    path(
        "tickets/<str:reference>/deescalate/",
        api.TicketDeescalateApi.as_view(),
        name="api-ticket-deescalate",
    ),
    path(
        "tickets/<str:reference>/resolve/",
        api.TicketResolveApi.as_view(),
        name="api-ticket-resolve",
    ),
    path(
        "tickets/<str:reference>/status/", api.TicketStatusApi.as_view(), name="api-ticket-status"
    ),
    path(
        "tickets/<str:reference>/attachments/",
        api.TicketAttachmentsApi.as_view(),
        name="api-ticket-attachments",
    ),
]
