"""What every teardown finder shares: the plan, the account's clients, and a record of listings that failed."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cdk_data_tier.app.endpoints import AwsTarget
from cdk_data_tier.app.ops.teardown_items import Leftover, Unchecked
from cdk_data_tier.app.ops.teardown_plan import Plan, Resource

STACK_TAG = "aws:cloudformation:stack-name"
LOGICAL_ID_TAG = "aws:cloudformation:logical-id"
SERVICE_STACKS = {"rds": "Database", "dynamodb": "Dynamo", "elasticache": "Cache"}


@dataclass(frozen=True)
class Tie:
    how: str  # teardown_items.HOW_FOUND
    stack: str
    resource: Resource | None


@dataclass
class Scan:
    plan: Plan
    aws: AwsTarget
    account: str = ""
    now: datetime = field(default_factory=lambda: datetime.now(UTC))
    # ARN -> (stack, logical id) of everything still carrying one of the environment's stack-name tags.
    tagged: dict[str, tuple[str, str]] = field(default_factory=dict)
    # ARNs of the backups and copies `ops backup` and the restores made for this environment (their own tags).
    made_by_ops: set[str] = field(default_factory=set)
    unchecked: list[Unchecked] = field(default_factory=list)
    _clients: dict[str, Any] = field(default_factory=dict)

    @property
    def env(self) -> str:
        return self.plan.env

    def client(self, service: str):
        if service not in self._clients:
            self._clients[service] = self.aws.client(service)
        return self._clients[service]

    def pages(self, service: str, operation: str, key: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of a paginated listing (boto3's paginator: bounded pages, each call retried a bounded
        number of times by the client's standard retry mode)."""
        for page in self.client(service).get_paginator(operation).paginate(**params):
            yield from page.get(key, [])

    def guarded(self, what: str, find: Callable[[], list[Leftover]]) -> list[Leftover]:
        """A finder's items; a listing AWS refuses (no permission, an API not there) is recorded, not fatal."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return find()
        except (ClientError, BotoCoreError) as exc:
            self.unchecked.append(Unchecked(what, _one_line(exc)))
            return []

    def tag_of(self, arn: str) -> tuple[str, Resource | None] | None:
        """(stack, template resource) when the ARN still carries an environment stack-name tag."""
        hit = self.tagged.get(arn.removesuffix(":*"))
        if hit is None:
            return None
        stack, logical_id = hit
        return stack, self.plan.by_logical_id(stack, logical_id)

    def tie_from_tags(self, tags: dict[str, str]) -> Tie | None:
        """A resource's own tags (as the service lists them), when they name one of the environment's stacks."""
        stack = self.plan.owns_stack(tags.get(STACK_TAG) or "\0")
        if stack is None:
            return None
        return Tie("tag", stack, self.plan.by_logical_id(stack, tags.get(LOGICAL_ID_TAG, "")))

    def tie(self, arn: str, resource: Resource | None, *names: str) -> Tie | None:
        """How an item belongs to the environment, if it does: its tag, a template's name for it (the resource
        given), or one of the names starting with the environment's prefix."""
        tagged = self.tag_of(arn) if arn else None
        if tagged is not None:
            return Tie("tag", tagged[0], tagged[1] or resource)
        if arn and arn in self.made_by_ops:
            return Tie("tag", resource.stack if resource else self.stack_of_service(arn), resource)
        if resource is not None:
            return Tie("name", resource.stack, resource)
        for name in names:
            if name and self.plan.has_prefix(name):
                return Tie("prefix", self.plan.stack_of_name(name), None)
        return None

    def stack_of_service(self, arn: str) -> str:
        """The stack whose store an ARN's service is (rds: Database, dynamodb: Dynamo, elasticache: Cache)."""
        concern = SERVICE_STACKS.get(arn.split(":")[2] if arn.count(":") >= 2 else "", "")
        return f"{self.env}-{concern}" if concern else ""

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.aws.region or self.plan.region}:{self.account}:{resource}"


def _one_line(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    # moto (and proxies) answer an API they lack with an HTML 404 page: what precedes it says enough.
    return re.split(r"(?i)<!doctype", text, maxsplit=1)[0].strip().rstrip(":")[:200]
