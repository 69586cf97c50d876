# Scopes for API tokens (security review #26). Tokens made before scopes existed
# could do everything their user could: they keep exactly that (every scope), and
# their owners can replace them with narrower ones.

from django.db import migrations, models

#: integrations.scopes.ALL_SCOPES when this migration was written (frozen here: a
#: scope added later must not be granted to old tokens by re-running history).
ALL_SCOPES = ["read", "tickets:write", "kb:write", "reports:read"]


def grant_todays_power(apps, schema_editor):
    ApiToken = apps.get_model("integrations", "ApiToken")
    ApiToken.objects.update(scopes=ALL_SCOPES)


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0001_api_tokens_and_webhooks"),
    ]

    operations = [
        migrations.AddField(
            model_name="apitoken",
            name="scopes",
            field=models.JSONField(
                default=list,
                help_text="What the token may do: read, tickets:write, kb:write, reports:read.",
            ),
        ),
        migrations.RunPython(grant_todays_power, migrations.RunPython.noop),
    ]
