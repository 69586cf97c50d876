"""Static files: WhiteNoise's compressed manifest storage, with each URL worked out
once per process.

The manifest is read once when the process starts (a new ``collectstatic`` needs a
restart anyway), so a name's hashed URL cannot change while the process lives; yet
Django recomputes it (manifest lookup, path splitting, quoting, joining) for every
``{% static %}`` on every page: six per agent page, about 5% of a cached page's CPU.
"""

from __future__ import annotations

from typing import Any

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticStorage(CompressedManifestStaticFilesStorage):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._urls: dict[str, str] = {}

    def url(self, name: str, force: bool = False) -> str:
        if force:  # collectstatic's own post-processing
            return super().url(name, force=True)
        try:
            return self._urls[name]
        except KeyError:
            url = self._urls[name] = super().url(name)
            return url
