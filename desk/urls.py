from django.urls import path

from .views import pages as v

app_name = "desk"

urlpatterns = [
    path("", v.IndexView.as_view(), name="index"),
    path("agents/", v.AgentListView.as_view(), name="agents"),
    path("agents/new/", v.AgentCreateView.as_view(), name="agent-new"),
    path("agents/<int:pk>/", v.AgentEditView.as_view(), name="agent-edit"),
    path("agents/<int:pk>/password/", v.AgentPasswordResetView.as_view(), name="agent-password"),
    path("agents/<int:pk>/tokens/", v.AgentTokensRevokeView.as_view(), name="agent-tokens"),
    path("categories/", v.CategoryListView.as_view(), name="categories"),
    path("categories/new/", v.CategoryFormView.as_view(), name="category-new"),
    path("categories/<int:pk>/", v.CategoryFormView.as_view(), name="category-edit"),
    path("budgets/", v.BudgetGridView.as_view(), name="budgets"),
    path("budgets/<int:pk>/", v.PolicyFormView.as_view(), name="policy-edit"),
    path("calendars/", v.CalendarListView.as_view(), name="calendars"),
    path("calendars/new/", v.CalendarFormView.as_view(), name="calendar-new"),
    path("calendars/<int:pk>/", v.CalendarFormView.as_view(), name="calendar-edit"),
    path("calendars/<int:pk>/holidays/", v.HolidayAddView.as_view(), name="holiday-add"),
    path("calendars/<int:pk>/hours/", v.HoursAddView.as_view(), name="hours-add"),
    path("holidays/<int:pk>/delete/", v.HolidayDeleteView.as_view(), name="holiday-delete"),
    path("hours/<int:pk>/delete/", v.HoursDeleteView.as_view(), name="hours-delete"),
    path("sla/", v.SLAListView.as_view(), name="sla"),
    path("sla/new/", v.SLAFormView.as_view(), name="sla-new"),
    path("sla/<int:pk>/", v.SLAFormView.as_view(), name="sla-edit"),
    path("vendors/", v.VendorListView.as_view(), name="vendors"),
    path("vendors/new/", v.VendorFormView.as_view(), name="vendor-new"),
    path("vendors/<int:pk>/", v.VendorFormView.as_view(), name="vendor-edit"),
    path("canned/", v.CannedListView.as_view(), name="canned"),
    path("canned/new/", v.CannedFormView.as_view(), name="canned-new"),
    path("canned/<int:pk>/", v.CannedFormView.as_view(), name="canned-edit"),
    path("canned/<int:pk>/delete/", v.CannedDeleteView.as_view(), name="canned-delete"),
    path("webhooks/", v.WebhookListView.as_view(), name="webhooks"),
    path("webhooks/new/", v.WebhookFormView.as_view(), name="webhook-new"),
    path("webhooks/<int:pk>/", v.WebhookFormView.as_view(), name="webhook-edit"),
    path("webhooks/<int:pk>/delete/", v.WebhookDeleteView.as_view(), name="webhook-delete"),
    path("tokens/", v.TokenListView.as_view(), name="tokens"),
    path("tokens/<int:pk>/revoke/", v.TokenRevokeView.as_view(), name="token-revoke"),
    path("audit/", v.AuditLogView.as_view(), name="audit"),
]
