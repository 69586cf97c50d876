from django.urls import path

from . import views

app_name = "identity"

urlpatterns = [
    path("<slug:slug>/login/", views.oidc_login, name="oidc-login"),
    path("<slug:slug>/callback/", views.oidc_callback, name="oidc-callback"),
]
