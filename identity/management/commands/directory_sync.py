from django.core.management.base import BaseCommand, CommandError

from identity.ldap import DirectoryUnavailable, directory_sync


class Command(BaseCommand):
    help = "Bring directory (LDAP) accounts in step with the directory now; prints what it did."

    def handle(self, *args, **options) -> None:
        try:
            report = directory_sync()
        except DirectoryUnavailable as exc:
            raise CommandError(f"Nothing changed: {exc}") from exc
        self.stdout.write(str(report))
