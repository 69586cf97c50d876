from django.apps import AppConfig


class EmailChannelConfig(AppConfig):
    name = "emailchannel"
    verbose_name = "E-mail channel"
