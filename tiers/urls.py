from django.urls import path

from . import views

app_name = "tiers"

# Mounted at /vendor/ (helpdesk/urls.py).
urlpatterns = [
    path("handoff/<str:reference>/", views.handoff_create, name="handoff-create"),
    path("handoff/<str:reference>/revoke/", views.handoff_revoke, name="handoff-revoke"),
    path("<str:token>/", views.vendor_page, name="vendor"),
]
