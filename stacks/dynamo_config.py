"""Config of the `<env>-Dynamo` stack (validated by stacks/config.py; no context reads here)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_GSIS = 20
MAX_LSIS = 5


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


class GsiConfig(_Strict):
    name: str = Field(min_length=3, max_length=255, pattern=r"^[A-Za-z0-9_.-]+$")
    partition_key: KeyAttribute
    sort_key: KeyAttribute | None = None
    projection: Literal["ALL", "KEYS_ONLY", "INCLUDE"] = "ALL"
    non_key_attributes: tuple[str, ...] = ()
    read_capacity: AutoscaledCapacity | None = None
    write_capacity: AutoscaledCapacity | None = None


class LsiConfig(_Strict):
    name: str = Field(min_length=3, max_length=255, pattern=r"^[A-Za-z0-9_.-]+$")
    # Optional, and only ever the table's own partition key: an LSI cannot have another one.
    partition_key: KeyAttribute | None = None
    sort_key: KeyAttribute
    projection: Literal["ALL", "KEYS_ONLY", "INCLUDE"] = "ALL"
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
    ttl_attribute: str | None = "expires_at"
    stream: Literal["NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY"] | None = None
    encryption: Literal["aws_owned", "customer_managed"] = "aws_owned"
    deletion_protection: bool = False
    removal: Literal["destroy", "retain"] = "destroy"
    throttle_alarm_threshold: int = Field(default=1, ge=1)
    capacity_alarm_percent: int = Field(default=80, ge=10, le=100)

    @model_validator(mode="after")
    def _consistent(self) -> DynamoConfig:
        if len(self.gsis) > MAX_GSIS:
            raise ValueError(f"gsis has {len(self.gsis)} entries, which is not allowed: at most {MAX_GSIS}")
        if len(self.lsis) > MAX_LSIS:
            raise ValueError(f"lsis has {len(self.lsis)} entries, which is not allowed: at most {MAX_LSIS}")
        seen: set[str] = set()
        for kind, index in [("gsis", i) for i in self.gsis] + [("lsis", i) for i in self.lsis]:
            if index.name in seen:
                raise ValueError(f"{kind}.name={index.name!r} is not allowed: index names must be unique")
            seen.add(index.name)
        for i, lsi in enumerate(self.lsis):
            if self.sort_key is None:
                raise ValueError(f"lsis[{i}]={lsi.name!r} is not allowed: an LSI needs a table with a sort key")
            if lsi.partition_key is not None and lsi.partition_key != self.partition_key:
                raise ValueError(f"lsis[{i}].partition_key={lsi.partition_key.name!r} is not allowed: an LSI "
                                 f"shares the table's partition key {self.partition_key.name!r}")
        for i, index in enumerate((*self.gsis, *self.lsis)):
            if index.projection == "INCLUDE" and not index.non_key_attributes:
                raise ValueError(f"indexes[{i}].projection='INCLUDE' is not allowed without non_key_attributes")
        if self.billing == "provisioned":
            if self.read_capacity is None or self.write_capacity is None:
                raise ValueError("billing='provisioned' is not allowed without read_capacity and write_capacity "
                                 "(each {min, max, target_utilization})")
        elif self.read_capacity or self.write_capacity or any(g.read_capacity or g.write_capacity for g in self.gsis):
            raise ValueError("billing='on_demand' is not allowed with read_capacity/write_capacity: "
                             "capacities apply to provisioned billing only")
        return self
