"""Wires one environment's stacks together with strong references."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk

from cdk_data_tier.stacks.cache_stack import CacheStack
from cdk_data_tier.stacks.config import EnvConfig
from cdk_data_tier.stacks.database_stack import DatabaseStack
from cdk_data_tier.stacks.dynamo_stack import DynamoStack
from cdk_data_tier.stacks.network_stack import NetworkStack


@dataclass(frozen=True)
class DataTier:
    network: NetworkStack
    database: DatabaseStack
    dynamo: DynamoStack
    cache: CacheStack


def build_data_tier(app: cdk.App, config: EnvConfig) -> DataTier:
    env = cdk.Environment(account=config.account, region=config.region)
    tags = {"project": "cdk-data-tier", "environment": config.name}
    network = NetworkStack(app, config.stack_name("Network"), config=config, env=env, tags=tags,
                           description=f"cdk-data-tier {config.name}: VPC, endpoints, flow logs, bastion, app host")
    stateful = {"env": env, "tags": tags, "termination_protection": config.termination_protection}
    database = DatabaseStack(app, config.stack_name("Database"), config=config, network=network, **stateful,
                             description=f"cdk-data-tier {config.name}: RDS or Aurora, replicas, credentials, alarms")
    dynamo = DynamoStack(app, config.stack_name("Dynamo"), config=config, network=network, **stateful,
                         description=f"cdk-data-tier {config.name}: DynamoDB table, indexes, alarms")
    cache = CacheStack(app, config.stack_name("Cache"), config=config, network=network, **stateful,
                       description=f"cdk-data-tier {config.name}: ElastiCache replication group, credentials, alarms")
    return DataTier(network=network, database=database, dynamo=dynamo, cache=cache)
