from django.urls import path

from .views import agent, attachments, portal

app_name = "tickets"

urlpatterns = [
    # Customer portal
    path("", portal.home, name="home"),
    path("tickets/new/", portal.ticket_new, name="ticket-new"),
    path("tickets/new/suggest/", portal.ticket_suggest, name="ticket-suggest"),
    path(
        "tickets/new/open/<str:session>/<slug:slug>/",
        portal.suggestion_open,
        name="ticket-suggestion-open",
    ),
    path("tickets/submitted/<str:token>/", portal.ticket_submitted, name="ticket-submitted"),
    path("tickets/track/<str:token>/", portal.track, name="track"),
    path("tickets/track/<str:token>/solved/", portal.track_solved, name="track-solved"),
    path("tickets/track/<str:token>/reopen/", portal.track_reopen, name="track-reopen"),
    path("tickets/track/<str:token>/rate/", portal.track_rate, name="track-rate"),
    path("tickets/track/<str:token>/escalate/", portal.track_escalate, name="track-escalate"),
    path("tickets/mine/", portal.my_tickets, name="my-tickets"),
    path(
        "tickets/track/<str:token>/attachments/<int:pk>/",
        attachments.track_attachment_download,
        name="track-attachment",
    ),
    path("attachments/<int:pk>/", attachments.attachment_download, name="attachment"),
    # Agent workspace
    path("agent/", agent.queue, name="agent-queue"),
    path("agent/tickets/<str:reference>/", agent.ticket_detail, name="agent-ticket"),
    path("agent/tickets/<str:reference>/claim/", agent.ticket_claim, name="agent-claim"),
    path("agent/tickets/<str:reference>/reply/", agent.ticket_reply, name="agent-reply"),
    path("agent/tickets/<str:reference>/escalate/", agent.ticket_escalate, name="agent-escalate"),
    path("agent/tickets/<str:reference>/resolve/", agent.ticket_resolve, name="agent-resolve"),
]
