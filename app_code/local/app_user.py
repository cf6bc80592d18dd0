"""The twin's application user: its secret in moto, then the operator's one-time bootstrap, run by `local up`.

On AWS the stack creates the app user's secret (`{username, dbname, masterarn}` plus a generated password,
completed with the endpoint by its attachment) and an operator runs `ops bootstrap-db` once as the admin. The
twin does both the same way: the secret's template comes from the synthesized template, and the bootstrap is
the same code, run against the twin's outputs, so the workloads log in as the app user there too.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

from cdk_data_tier.app.local.outputs import Resolver
from cdk_data_tier.app.local.spec import SecretSpec, TwinSpec
from cdk_data_tier.app.local.state import OUTPUTS_FILE, State


class AppUserError(RuntimeError):
    """The template's app user secret cannot be made into a login."""


def secret_value(secret: SecretSpec, spec: TwinSpec, resolver: Resolver, attached: dict[str, Any]) -> dict[str, Any]:
    """The app user's secret as Secrets Manager holds it once attached: the template's fields (its `masterarn`
    resolved to the admin secret's twin ARN), a fresh password, and the endpoint fields of `attached`."""
    generate = spec.templates[secret.stack]["Resources"][secret.logical_id].get("Properties", {}) \
        .get("GenerateSecretString", {})
    raw = generate.get("SecretStringTemplate")
    template = json.loads(resolver.resolve(secret.stack, raw)) if raw is not None else {}
    if not template.get("username"):
        raise AppUserError(f"{secret.stack}/{secret.logical_id}: the app user's secret template has no username")
    return {**attached, **template, secret.generate_key or "password": secrets.token_urlsafe(24)}


def has_app_user(spec: TwinSpec) -> bool:
    return spec.database is not None and any(s.role == "app" for s in spec.secrets)


def bootstrap(state: State, echo: Callable[[str], None]) -> None:
    """`ops bootstrap-db` against the twin's outputs, as an operator runs it once after the first deploy."""
    from cdk_data_tier.app.endpoints import Endpoints  # noqa: PLC0415 - the twin's outputs exist only now
    from cdk_data_tier.app.ops.bootstrap_db import bootstrap as run  # noqa: PLC0415

    steps = run(Endpoints.from_outputs_file(state.path(OUTPUTS_FILE)))
    users = sorted({s.what.removeprefix("user ") for s in steps if s.what.startswith("user ")})
    echo(f"bootstrap-db: schema and {', '.join(users)} ({sum(s.changed for s in steps)} change(s))")
