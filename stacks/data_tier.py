"""Wires one environment's stacks together with strong references."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk

from cdk_data_tier.constructs.wheelhouse import Wheelhouse
from cdk_data_tier.stacks.app_release import app_wheelhouse
from cdk_data_tier.stacks.app_stack import AppStack
from cdk_data_tier.stacks.cache_stack import CacheStack
from cdk_data_tier.stacks.config import EnvConfig
from cdk_data_tier.stacks.database_stack import DatabaseStack
from cdk_data_tier.stacks.dynamo_stack import DynamoStack
from cdk_data_tier.stacks.network_stack import NetworkStack

# Every stack of an environment, `<env>-<suffix>`, in deploy order (app_code's endpoints contract reads the same).
STACK_SUFFIXES = ("Network", "Database", "Dynamo", "Cache", "App")


@dataclass(frozen=True)
class DataTier:
    network: NetworkStack
    database: DatabaseStack
    dynamo: DynamoStack
    cache: CacheStack
    app: AppStack


def build_data_tier(app: cdk.App, config: EnvConfig, *, wheelhouse: Wheelhouse | None = None) -> DataTier:
    """wheelhouse: the release the app host gets (default: built from this repository, for the host)."""
    env = cdk.Environment(account=config.account, region=config.region)
    tags = {"project": "cdk-data-tier", "environment": config.name}
    network = NetworkStack(app, config.stack_name("Network"), config=config, env=env, tags=tags,
                           description=f"cdk-data-tier {config.name}: VPC, endpoints, flow logs, bastion, "
                                       "the app host's security group and role")
    stateful = {"env": env, "tags": tags, "termination_protection": config.termination_protection}
    database = DatabaseStack(app, config.stack_name("Database"), config=config, network=network, **stateful,
                             description=f"cdk-data-tier {config.name}: RDS or Aurora, replicas, credentials, alarms")
    dynamo = DynamoStack(app, config.stack_name("Dynamo"), config=config, network=network, **stateful,
                         description=f"cdk-data-tier {config.name}: DynamoDB table, indexes, alarms")
    cache = CacheStack(app, config.stack_name("Cache"), config=config, network=network, **stateful,
                       description=f"cdk-data-tier {config.name}: ElastiCache replication group, credentials, alarms")
    # Stateless: a release replaces what it installed, so it needs no termination protection of its own (the
    # instance's API termination protection follows the environment's).
    app_stack = AppStack(app, config.stack_name("App"), config=config, network=network,
                         wheelhouse=wheelhouse or app_wheelhouse(config),
                         stack_names=[config.stack_name(s) for s in STACK_SUFFIXES], env=env, tags=tags,
                         description=f"cdk-data-tier {config.name}: app host and the release of app_code on it")
    return DataTier(network=network, database=database, dynamo=dynamo, cache=cache, app=app_stack)
