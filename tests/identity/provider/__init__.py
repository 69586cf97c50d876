"""A real OpenID provider for the identity tests: a tiny Django project on
django-oauth-toolkit's OIDC server (authorization code + PKCE, RS256 ID tokens,
discovery, JWKS, userinfo, RP-initiated logout), run in a throwaway process on a free
loopback port with its own SQLite file (``tests/identity/idp.py`` starts it)."""
