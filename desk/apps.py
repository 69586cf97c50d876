from django.apps import AppConfig


class DeskConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "desk"
    verbose_name = "Desk settings (manager pages, audit log, user preferences)"

    def ready(self) -> None:
        # The user's time zone goes into the session once, at login: the middleware
        # then activates it on every request without a query.
        from django.contrib.auth.signals import user_logged_in

        from .services import session_time_zone_load

        def _load(sender, request, user, **kwargs) -> None:
            if request is not None and hasattr(request, "session"):
                session_time_zone_load(request=request, user=user)

        user_logged_in.connect(_load, dispatch_uid="desk-time-zone-at-login", weak=False)
