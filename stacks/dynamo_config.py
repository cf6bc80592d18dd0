"""Config of the `<env>-Dynamo` stack (validated by stacks/config.py; no context reads here).

Cross-field problems raise a ValueError worded "<key>=<value> is not allowed: <what is>" (or
"<key> is missing: ... is not allowed ..."), with <key> relative to `environments.<env>.dynamo`;
stacks/config.py prefixes the path and passes the line on unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# DynamoDB's own quotas: CloudFormation would only report them minutes into a deploy.
MAX_GSIS = 20
MAX_LSIS = 5
MAX_PROJECTED_ATTRIBUTES = 100

_KEY_HINT = '{"name": ..., "type": "S", "N" or "B"}'
_CAPACITY_HINT = '{"min": ..., "max": ..., "target_utilization": 70}'
_SWITCHABLE = {"sort_key", "ttl_attribute", "stream"}
# (field, what an index lacking it is called, how to fix it), per index kind.
_REQUIRED = {
    "gsis": [("name", "an index without a name", "give it a unique name"),
             ("partition_key", "a GSI without a partition key", f"give it {_KEY_HINT}")],
    "lsis": [("name", "an index without a name", "give it a unique name"),
             ("sort_key", "an LSI without a sort key", f"give it {_KEY_HINT}")],
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KeyAttribute(_Strict):
    name: str = Field(min_length=1, max_length=255)
    type: Literal["S", "N", "B"] = "S"


class AutoscaledCapacity(_Strict):
    min: int = Field(ge=1, le=40000)
    max: int = Field(ge=1, le=40000)
    target_utilization: int = Field(default=70, ge=20, le=90)

    @model_validator(mode="after")
    def _ordered(self) -> AutoscaledCapacity:
        if self.max < self.min:
            raise ValueError(f"max={self.max} is not allowed: at least min ({self.min})")
        return self


Projection = Literal["ALL", "KEYS_ONLY", "INCLUDE"]
IndexName = Annotated[str, Field(min_length=3, max_length=255, pattern=r"^[A-Za-z0-9_.-]+$")]


class GsiConfig(_Strict):
    name: IndexName
    partition_key: KeyAttribute
    sort_key: KeyAttribute | None = None
    projection: Projection = "ALL"
    non_key_attributes: tuple[str, ...] = ()
    # Provisioned billing only; each defaults to the table's.
    read_capacity: AutoscaledCapacity | None = None
    write_capacity: AutoscaledCapacity | None = None


class LsiConfig(_Strict):
    name: IndexName
    # Accepted so that configs may spell it out, but only ever the table's own partition key.
    partition_key: KeyAttribute | None = None
    sort_key: KeyAttribute
    projection: Projection = "ALL"
    non_key_attributes: tuple[str, ...] = ()


class DynamoConfig(_Strict):
    partition_key: KeyAttribute = KeyAttribute(name="pk")
    sort_key: KeyAttribute | None = KeyAttribute(name="sk")
    gsis: tuple[GsiConfig, ...] = (
        GsiConfig(name="gsi1", partition_key=KeyAttribute(name="gsi1pk"), sort_key=KeyAttribute(name="gsi1sk")),
    )
    lsis: tuple[LsiConfig, ...] = ()
    billing: Literal["on_demand", "provisioned"] = "on_demand"
    read_capacity: AutoscaledCapacity | None = None
    write_capacity: AutoscaledCapacity | None = None
    pitr_recovery_days: int = Field(default=35, ge=1, le=35)
    ttl_attribute: str | None = Field(default="expires_at", min_length=1, max_length=255)
    stream: Literal["NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY"] | None = None
    encryption: Literal["aws_owned", "customer_managed"] = "aws_owned"
    # Both null follow the environment's `removal` (stacks/retention.py): `retain` means protection on and
    # `retain`, `destroy` means off and `destroy`. Inside an EnvConfig they are never null.
    deletion_protection: bool | None = None
    removal: Literal["destroy", "retain"] | None = None
    # An AWS Backup plan on top of PITR (DynamoDB.4); null for none, since its vault outlives `cdk destroy`.
    backup_plan_retention_days: int | None = Field(default=None, ge=1, le=36500)
    # When its jobs start (within the hour, UTC); kept clear of the maintenance windows (stacks/schedule_windows.py).
    backup_plan_start_hour_utc: int = Field(default=6, ge=0, le=23)
    throttle_alarm_threshold: int = Field(default=1, ge=1)
    capacity_alarm_percent: int = Field(default=80, ge=10, le=100)

    @model_validator(mode="before")
    @classmethod
    def _switches_and_index_keys(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        # CDK drops null values from context objects before Python sees them, so `null` in cdk.json
        # would silently keep the default: `false` is how a config switches these off.
        data = {k: None if k in _SWITCHABLE and v is False else v for k, v in data.items()}
        # Checked before field validation so that the message names the index the way the others do
        # (gsis[1].partition_key), rather than pydantic's generic "field required".
        for kind, required in _REQUIRED.items():
            entries = data.get(kind)
            if not isinstance(entries, Sequence) or isinstance(entries, str):
                continue
            for i, entry in enumerate(entries):
                if not isinstance(entry, Mapping):
                    continue
                for field, subject, fix in required:
                    if entry.get(field) is None:
                        raise ValueError(f"{kind}[{i}].{field} is missing: {subject} is not allowed; {fix}")
        return data

    @model_validator(mode="after")
    def _consistent(self) -> DynamoConfig:
        if self.backup_plan_retention_days and self.removal == "destroy":
            raise ValueError(f"backup_plan_retention_days={self.backup_plan_retention_days} is not allowed with "
                             "removal='destroy': the backup vault and its key outlive `cdk destroy`; set removal "
                             "'retain', or leave it unset in an environment with removal 'retain'")
        self._check_counts()
        self._check_names()
        self._check_lsis()
        self._check_key_types()
        self._check_projections()
        self._check_capacities()
        return self

    def _indexes(self) -> list[tuple[str, GsiConfig | LsiConfig]]:
        gsis: list[tuple[str, GsiConfig | LsiConfig]] = [(f"gsis[{i}]", g) for i, g in enumerate(self.gsis)]
        return gsis + [(f"lsis[{i}]", lsi) for i, lsi in enumerate(self.lsis)]

    def _check_counts(self) -> None:
        for kind, entries, limit in (("gsis", self.gsis, MAX_GSIS), ("lsis", self.lsis, MAX_LSIS)):
            if len(entries) > limit:
                raise ValueError(f"{kind}=<{len(entries)} indexes> is not allowed: at most {limit} "
                                 f"{kind[:-1].upper()}s per table")

    def _check_names(self) -> None:
        first: dict[str, str] = {}
        for where, index in self._indexes():
            if index.name in first:
                raise ValueError(f"{where}.name={index.name!r} is not allowed: {first[index.name]} already uses "
                                 "it, and index names are unique per table")
            first[index.name] = where

    def _check_lsis(self) -> None:
        if self.lsis and self.sort_key is None:
            raise ValueError("sort_key=None is not allowed with lsis: an LSI needs a table with a sort key")
        for i, lsi in enumerate(self.lsis):
            if lsi.partition_key is not None and lsi.partition_key.name != self.partition_key.name:
                raise ValueError(f"lsis[{i}].partition_key={lsi.partition_key.name!r} is not allowed: an LSI "
                                 f"shares the table's partition key {self.partition_key.name!r} (omit it)")

    def _check_key_types(self) -> None:
        # One attribute definition per name: a name keyed as S here and N there fails CreateTable.
        keys: list[tuple[str, KeyAttribute | None]] = [("partition_key", self.partition_key),
                                                       ("sort_key", self.sort_key)]
        for where, index in self._indexes():
            keys += [(f"{where}.partition_key", index.partition_key), (f"{where}.sort_key", index.sort_key)]
        seen: dict[str, tuple[str, str]] = {}
        for where, key in keys:
            if key is None:
                continue
            if key.name in seen and seen[key.name][1] != key.type:
                first, first_type = seen[key.name]
                raise ValueError(f"{where}.type={key.type!r} is not allowed: {key.name!r} is already a key of type "
                                 f"{first_type!r} ({first})")
            seen.setdefault(key.name, (where, key.type))

    def _check_projections(self) -> None:
        total = 0
        for where, index in self._indexes():
            attrs = list(index.non_key_attributes)
            if index.projection == "INCLUDE" and not attrs:
                raise ValueError(f"{where}.non_key_attributes=[] is not allowed: projection 'INCLUDE' needs at "
                                 "least one attribute")
            if index.projection != "INCLUDE" and attrs:
                raise ValueError(f"{where}.non_key_attributes={attrs!r} is not allowed: only with projection "
                                 f"'INCLUDE' (this index projects {index.projection!r})")
            total += len(attrs)
            if total > MAX_PROJECTED_ATTRIBUTES:
                raise ValueError(f"{where}.non_key_attributes=<{len(attrs)} names> is not allowed: the indexes "
                                 f"would project {total} non-key attributes, at most {MAX_PROJECTED_ATTRIBUTES} "
                                 "per table")

    def _check_capacities(self) -> None:
        if self.billing == "provisioned":
            for field in ("read_capacity", "write_capacity"):
                if getattr(self, field) is None:
                    raise ValueError(f"{field} is missing: billing='provisioned' without it is not allowed; "
                                     f"give {_CAPACITY_HINT} (the GSIs default to it too)")
            return
        owners: list[tuple[str, BaseModel]] = [("", self), *((f"gsis[{i}].", g) for i, g in enumerate(self.gsis))]
        for prefix, owner in owners:
            for field in ("read_capacity", "write_capacity"):
                cap = getattr(owner, field)
                if cap is not None:
                    raise ValueError(f"{prefix}{field}={cap.model_dump()} is not allowed: capacities apply only "
                                     "with billing='provisioned'")
