"""Config of the dynamo stack (validated by stacks/config.py; no context reads here)."""

from pydantic import BaseModel, ConfigDict


class DynamoConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
