from django.urls import path

from . import api

urlpatterns = [
    path("kb/articles/", api.ArticleListApi.as_view(), name="api-kb-articles"),
    path("kb/articles/<str:slug>/", api.ArticleDetailApi.as_view(), name="api-kb-article"),
    path("kb/suggest/", api.ArticleSuggestApi.as_view(), name="api-kb-suggest"),
]
