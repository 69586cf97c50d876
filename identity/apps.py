from django.apps import AppConfig


class IdentityConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "identity"
    verbose_name = "Identity (single sign-on and directory)"

    def ready(self) -> None:
        # django-auth-ldap reports directory errors by signal, not by exception: the
        # login form and the sync need to know that the directory was down.
        from django_auth_ldap.backend import ldap_error

        from . import (
            checks,  # noqa: F401  (registers the system checks)
            ldap,
        )

        ldap_error.connect(ldap.note_ldap_error, dispatch_uid="identity-ldap-error")
