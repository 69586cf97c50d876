"""``python -m tests.identity.provider setup|groups|redirect …`` against the provider's
SQLite file (IDP_DIR); serving is ``python -m django runserver`` with these settings."""

import json
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.identity.provider.settings")

import django

django.setup()

from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from oauth2_provider.models import Application  # noqa: E402


def set_groups(username, groups):
    user = User.objects.get(username=username)
    user.groups.set([Group.objects.get_or_create(name=g)[0] for g in groups])


def setup(spec):
    call_command("migrate", verbosity=0)
    for person in spec["users"]:
        user = User.objects.create_user(
            person["username"],
            email=person.get("email", ""),
            password=spec["password"],
            first_name=person.get("first_name", ""),
            last_name=person.get("last_name", ""),
        )
        set_groups(user.username, person.get("groups", []))
    for client in spec["clients"]:
        Application.objects.create(
            name=client["client_id"],
            client_id=client["client_id"],
            client_secret=client["client_secret"],
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
            algorithm=Application.RS256_ALGORITHM,
            redirect_uris=" ".join(client["redirect_uris"]),
            post_logout_redirect_uris=" ".join(client.get("post_logout_redirect_uris", [])),
            skip_authorization=True,
        )


def add_redirect(client_id, uri, logout_uri):
    app = Application.objects.get(client_id=client_id)
    app.redirect_uris = " ".join({*app.redirect_uris.split(), uri})
    app.post_logout_redirect_uris = " ".join({*app.post_logout_redirect_uris.split(), logout_uri})
    app.save(update_fields=["redirect_uris", "post_logout_redirect_uris"])


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "setup":
        setup(json.loads(args[0]))
    elif command == "groups":
        set_groups(args[0], args[1:])
    elif command == "redirect":
        add_redirect(*args)
    else:
        raise SystemExit(f"unknown command {command}")
