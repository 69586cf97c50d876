from django.urls import path

from . import views

app_name = "automation"

urlpatterns = [
    path("triggers/", views.trigger_list, name="trigger-list"),
    path("triggers/new/", views.trigger_edit, name="trigger-new"),
    path("triggers/<int:pk>/", views.trigger_edit, name="trigger-edit"),
    path("triggers/<int:pk>/delete/", views.trigger_delete, name="trigger-delete"),
    path("macros/", views.macro_list, name="macro-list"),
    path("macros/new/", views.macro_edit, name="macro-new"),
    path("macros/<int:pk>/", views.macro_edit, name="macro-edit"),
    path("macros/<int:pk>/delete/", views.macro_delete, name="macro-delete"),
    path("tickets/<str:reference>/tags/", views.ticket_tags, name="ticket-tags"),
    path("tickets/<str:reference>/macro/", views.ticket_macro, name="ticket-macro"),
]
