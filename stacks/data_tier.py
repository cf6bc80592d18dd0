"""Wires one environment's stacks together with strong references."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk

from stacks.config import EnvConfig
from stacks.dynamo_stack import DynamoStack
from stacks.network_stack import NetworkStack


@dataclass(frozen=True)
class DataTier:
    network: NetworkStack
    dynamo: DynamoStack


def build_data_tier(app: cdk.App, config: EnvConfig) -> DataTier:
    env = cdk.Environment(account=config.account, region=config.region)
    tags = {"project": "cdk-data-tier", "environment": config.name}
    network = NetworkStack(app, config.stack_name("Network"), config=config, env=env, tags=tags,
                           description=f"cdk-data-tier {config.name}: VPC, endpoints, flow logs, bastion, app host")
    stateful = {"env": env, "tags": tags, "termination_protection": config.termination_protection}
    dynamo = DynamoStack(app, config.stack_name("Dynamo"), config=config, network=network, **stateful,
                         description=f"cdk-data-tier {config.name}: DynamoDB table, indexes, alarms")
    return DataTier(network=network, dynamo=dynamo)
