"""Config of the cache stack (validated by stacks/config.py; no context reads here)."""

from pydantic import BaseModel, ConfigDict


class CacheConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
