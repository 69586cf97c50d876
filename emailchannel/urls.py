from django.urls import path

from . import views

app_name = "emailchannel"

urlpatterns = [
    path("inbound/", views.inbound, name="inbound"),
    path("quarantine/", views.quarantine, name="quarantine"),
    path("quarantine/<int:pk>/raw/", views.quarantine_raw, name="quarantine-raw"),
    path("quarantine/<int:pk>/retry/", views.quarantine_retry_view, name="quarantine-retry"),
]
