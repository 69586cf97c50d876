from django.urls import path

from .views import agent, attachments, export, live, portal, relations

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
    path("agent/bulk/", agent.queue_bulk, name="agent-bulk"),
    path("agent/export.csv", export.queue_export, name="agent-export"),
    path("agent/views/", agent.queue_view_save, name="agent-views"),
    path("agent/notifications/", agent.notifications, name="agent-notifications"),
    path("agent/notifications/read/", agent.notifications_read, name="agent-notifications-read"),
    path("agent/tickets/<str:reference>/", agent.ticket_detail, name="agent-ticket"),
    path("agent/tickets/<str:reference>/presence/", agent.ticket_presence, name="agent-presence"),
    path("agent/tickets/<str:reference>/typing/", live.typing, name="agent-typing"),
    # Server-Sent Events for agents' pages (served by the ASGI stream server).
    path("live/stream/", live.stream, name="live-stream"),
    path("agent/tickets/<str:reference>/claim/", agent.ticket_claim, name="agent-claim"),
    path("agent/tickets/<str:reference>/unclaim/", agent.ticket_unclaim, name="agent-unclaim"),
    path("agent/tickets/<str:reference>/assign/", agent.ticket_assign, name="agent-assign"),
    path("agent/tickets/<str:reference>/reply/", agent.ticket_reply, name="agent-reply"),
    path("agent/tickets/<str:reference>/status/", agent.ticket_status, name="agent-status"),
    path("agent/tickets/<str:reference>/priority/", agent.ticket_priority, name="agent-priority"),
    path("agent/tickets/<str:reference>/edit/", agent.ticket_edit, name="agent-edit"),
    path("agent/tickets/<str:reference>/link/", relations.ticket_link, name="agent-link"),
    path(
        "agent/tickets/<str:reference>/unlink/<int:link_id>/",
        relations.ticket_unlink,
        name="agent-unlink",
    ),
    path(
        "agent/tickets/<str:reference>/incident/", relations.ticket_incident, name="agent-incident"
    ),
    path("agent/tickets/<str:reference>/escalate/", agent.ticket_escalate, name="agent-escalate"),
    path("agent/tickets/<str:reference>/bounce/", agent.ticket_bounce, name="agent-bounce"),
    path(
        "agent/tickets/<str:reference>/avoidable/", agent.ticket_avoidable, name="agent-avoidable"
    ),
    path(
        "agent/tickets/<str:reference>/deescalate/",
        agent.ticket_deescalate,
        name="agent-deescalate",
    ),
    path("agent/tickets/<str:reference>/resolve/", agent.ticket_resolve, name="agent-resolve"),
    path("agent/tickets/<str:reference>/merge/", agent.ticket_merge, name="agent-merge"),
    path("agent/tickets/<str:reference>/grant/", agent.ticket_grant, name="agent-grant"),
]
