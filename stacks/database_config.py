"""Config of the database stack (validated by stacks/config.py; no context reads here)."""

from pydantic import BaseModel, ConfigDict


class DatabaseConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
