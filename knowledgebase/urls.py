from django.urls import path

from . import views

app_name = "knowledgebase"

urlpatterns = [
    path("", views.index, name="index"),
    path("gaps/", views.gaps, name="gaps"),
    path("manage/", views.manage_list, name="manage"),
    path("manage/new/", views.article_new, name="article-new"),
    path("manage/preview/", views.article_preview, name="article-preview"),
    path("manage/<slug:slug>/", views.manage_detail, name="manage-detail"),
    path("manage/<slug:slug>/edit/", views.article_edit, name="article-edit"),
    path("manage/<slug:slug>/history/", views.article_history, name="article-history"),
    path("manage/<slug:slug>/<str:action>/", views.article_action, name="article-action"),
    path("<slug:slug>/", views.article, name="article"),
    path("<slug:slug>/feedback/", views.article_feedback, name="article-feedback"),
]
