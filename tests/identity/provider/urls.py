import json

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpResponse
from django.urls import include, path
from jwcrypto import jwk

_real = jwk.JWK.from_pem(settings.OAUTH2_PROVIDER["OIDC_RSA_PRIVATE_KEY"].encode())
_rogue = jwk.JWK.generate(kty="RSA", size=2048)


def rogue_jwks(request):
    """A key set naming the real key's id with another public key: a client that
    trusts it must find every real ID token's signature wrong."""
    key = json.loads(_rogue.export_public())
    key.update({"kid": _real.thumbprint(), "alg": "RS256", "use": "sig"})
    return HttpResponse(json.dumps({"keys": [key]}), content_type="application/json")


urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(template_name="idp_login.html")),
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path("rogue-jwks/", rogue_jwks),
]
