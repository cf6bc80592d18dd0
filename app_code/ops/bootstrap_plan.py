"""What bootstrap-db works with: the users it makes (Plan), where it logs in (Server), what it did (Step)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cdk_data_tier.app.endpoints import HostPort

CLONE_SUFFIX = "_clone"  # what AWS's multi-user rotation appends to the user it alternates with


@dataclass(frozen=True)
class Step:
    what: str
    changed: bool
    detail: str


@dataclass(frozen=True)
class Server:
    """Where the admin logs in: the writer endpoint, or a forwarded port on this machine standing for it."""

    endpoint: HostPort
    dbname: str
    ca_bundle: str | None
    via: HostPort | None = None  # `--via 127.0.0.1:15433`: the bastion's port forward

    def __str__(self) -> str:
        return f"{self.endpoint}" + (f" (through {self.via})" if self.via else "")


@dataclass(frozen=True)
class Plan:
    """The users the bootstrap makes, named from the secrets and the outputs."""

    admin: str
    login: str  # the username AppSecretArn holds now: `<app>` or, after a rotation, `<app>_clone`
    password: str  # and its password
    app: str
    clone: str
    iam_user: str | None
    dbname: str

    @property
    def group(self) -> str:
        """PostgreSQL: the NOLOGIN role that holds the grants, of which every app login is a member."""
        return f"{self.app}_dml"

    def password_of(self, user: str) -> str:
        # The login the secret does not name yet gets a password nobody holds; its first rotation sets one.
        return self.password if user == self.login else secrets.token_urlsafe(24)


Connect = Callable[[str, str], Any]  # (user, password) -> an autocommit connection to the writer
