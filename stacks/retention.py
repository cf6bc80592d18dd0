"""What an environment's `removal` means for each data store that leaves its own keys unset.

EnvConfig fills those keys in before the stores' configs validate, so the stores' cross-field checks and
the stacks see one resolved value, and an explicit per-store value still wins. A `retain` environment
whose store is explicitly set to lose data gets one warning line per such key: the explicit value may be
deliberate (a scratch table in prod), so it is not an error, but it must not be silent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel


@dataclass(frozen=True)
class Follows:
    store: str
    key: str
    when_retained: Any
    # The value a destroying environment gives the key, which in a retaining one loses data.
    when_destroyed: Any
    loss: str


FOLLOWS = (
    Follows("database", "removal", "snapshot", "destroy", "destroys the database on cdk destroy (no final snapshot)"),
    Follows("database", "deletion_protection", True, False, "leaves the database unprotected against deletion"),
    Follows("dynamo", "removal", "retain", "destroy", "destroys the table on cdk destroy"),
    Follows("dynamo", "deletion_protection", True, False, "leaves the table unprotected against deletion"),
    Follows("cache", "removal", "snapshot", "destroy", "destroys the cache on cdk destroy (no final snapshot)"),
)


def follow_environment(data: Any, default_removal: str) -> Any:
    """The raw environment with each store's unset (or null) keys filled in from the environment's `removal`."""
    if not isinstance(data, Mapping):
        return data
    removal = data.get("removal", default_removal)
    if removal not in ("destroy", "retain"):
        return data  # EnvConfig reports the bad value; filling from it would only add a second error
    filled = dict(data)
    for follows in FOLLOWS:
        section = filled.get(follows.store, {})
        if isinstance(section, BaseModel):  # an EnvConfig built in Python from store configs
            section = section.model_dump(exclude_unset=True)
        if not isinstance(section, Mapping):
            continue  # the store's own validation names what is wrong
        if section.get(follows.key) is None:
            value = follows.when_retained if removal == "retain" else follows.when_destroyed
            section = {**section, follows.key: value}
        filled[follows.store] = section
    return filled


def data_loss_warnings(env: str, removal: str, stores: Mapping[str, BaseModel]) -> tuple[str, ...]:
    """One line per store key that loses data although the environment retains.

    Following a `retain` environment never yields a losing value, so every value found here was set explicitly.
    """
    if removal != "retain":
        return ()
    return tuple(
        f"config warning: environments.{env}.{f.store}.{f.key}={f.when_destroyed!r} {f.loss} although "
        f"environments.{env}.removal='retain'"
        for f in FOLLOWS if getattr(stores[f.store], f.key) == f.when_destroyed)
