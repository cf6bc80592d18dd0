"""Who the alarm topics notify (validated by stacks/config.py; no context reads here).

Every alarm topic of the environment (database, table, cache) is subscribed to every target. Each bad target
is one config error naming it: `environments.<env>.notifications.emails[0]='x' is not allowed: ...`.
"""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict

# Deliberately plain: SNS sends a confirmation mail, which is the real test of an address.
_EMAIL = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError("an email address like 'ops@example.com'")
    return value


def _https(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname or any(c.isspace() for c in value):
        raise ValueError("an https:// URL like 'https://alerts.example.com/sns' (SNS delivers to HTTPS only here)")
    return value


class NotificationsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    emails: tuple[Annotated[str, AfterValidator(_email)], ...] = ()
    https_urls: tuple[Annotated[str, AfterValidator(_https)], ...] = ()

    @property
    def any(self) -> bool:
        return bool(self.emails or self.https_urls)
