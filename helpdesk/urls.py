from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from desk.views.preferences import preferences
from identity import views as identity_views
from tickets.views import accounts as customer_accounts

from . import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("accounts/login/", identity_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", identity_views.LogoutView.as_view(), name="logout"),
    path("accounts/oidc/", include("identity.urls")),
    path("accounts/signup/", customer_accounts.signup, name="signup"),
    path("accounts/verify/<str:token>/", customer_accounts.verify, name="account-verify"),
    path("accounts/verify/", customer_accounts.verify_resend, name="account-verify-resend"),
    path("accounts/tokens/", include("integrations.urls")),
    path("accounts/preferences/", preferences, name="preferences"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("helpdesk.api_urls")),
    path("kb/", include("knowledgebase.urls")),
    path("dashboard/", include("reports.urls")),
    path("manage/", include("desk.urls")),
    path("vendor/", include("tiers.urls")),
    path("email/", include("emailchannel.urls")),
    path("automation/", include("automation.urls")),
    path("", include("tickets.urls")),
]

if settings.TIERDESK_BENCH:
    # Only the benchmark settings route the ceiling page (see bench/ and BENCHMARKS.md).
    from . import bench_views

    urlpatterns.append(path("bench/ceiling/", bench_views.ceiling, name="bench-ceiling"))

handler400 = "helpdesk.views.error_400"
handler403 = "helpdesk.views.error_403"
handler404 = "helpdesk.views.error_404"
handler500 = "helpdesk.views.error_500"
