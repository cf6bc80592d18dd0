"""What an environment's templates use each month, one line per billable resource: the price key and quantity.

Quantities come from the templates (instance types, node counts, AZs, GiB); what the templates cannot know
(log volume, table size) comes from the sheet's stated assumptions, and each such line says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cdk_data_tier.app.cost.catalog import NOT_PRICED, category

Templates = dict[str, dict[str, Any]]  # stack name -> template


@dataclass(frozen=True)
class Usage:
    stack: str
    resource: str
    type: str
    price_key: str | None  # None: not priced, and `note` says why
    quantity: float
    unit: str
    note: str = ""


def _name(stack: str, logical: str, props: dict[str, Any]) -> str:
    tags = props.get("Tags", [])
    name = next((t.get("Value") for t in tags if isinstance(t, dict) and t.get("Key") == "Name"), None)
    if isinstance(name, str) and name.startswith(f"{stack}/"):
        return name.removeprefix(f"{stack}/")
    return re.sub(r"[0-9A-F]{8}$", "", logical)


def _ref(value: Any) -> str | None:
    """The logical id a Ref (or a Fn::Join around one, as in a replica's source ARN) points at."""
    if isinstance(value, dict):
        if isinstance(value.get("Ref"), str):
            return value["Ref"]
        for item in value.values():
            found = _ref(item)
            if found:
                return found
    if isinstance(value, list):
        for item in value:
            found = _ref(item)
            if found:
                return found
    return None


class Reader:
    def __init__(self, templates: Templates, assumptions: dict[str, float]) -> None:
        self.templates = templates
        self.hours = assumptions["hours_per_month"]
        self.assumptions = assumptions

    def lines(self) -> list[Usage]:
        found: list[Usage] = []
        log_groups = 0
        for stack, template in self.templates.items():
            resources = template.get("Resources", {})
            alarms: list[dict[str, Any]] = []
            for logical, res in resources.items():
                kind, props = res["Type"], res.get("Properties", {})
                if kind == "AWS::CloudWatch::Alarm":
                    alarms.append(props)
                elif kind == "AWS::Logs::LogGroup":
                    log_groups += 1
                elif category(kind) == "priced":
                    found += self._priced(stack, logical, kind, props, resources)
                elif category(kind) == "not priced":
                    found.append(Usage(stack, f"{kind.split('::')[-1]} {_name(stack, logical, props)}", kind, None,
                                       0, "", NOT_PRICED[kind]))
                elif category(kind) == "unknown":
                    found.append(Usage(stack, _name(stack, logical, props), kind, None, 0, "",
                                       "unknown resource type: not priced"))
            found += self._alarms(stack, alarms)
        if log_groups:
            gb = self.assumptions["log_ingestion_gb_per_month"]
            found.append(Usage("(all)", f"CloudWatch Logs ingestion into {log_groups} log groups",
                               "AWS::Logs::LogGroup", "logs:ingestion_gb", gb, "GB",
                               f"assumed {gb:g} GB/month across the environment (flow logs, database, cache and "
                               "Lambda logs); storage not counted"))
        return found

    def _priced(self, stack: str, logical: str, kind: str, props: dict[str, Any],
                resources: dict[str, Any]) -> list[Usage]:
        name = _name(stack, logical, props)
        hours = self.hours
        if kind == "AWS::EC2::NatGateway":
            return [Usage(stack, f"NAT gateway {name}", kind, "nat_gateway_hour", hours, "h",
                          "data processed ($/GB) not estimated")]
        if kind == "AWS::EC2::EIP":
            return [Usage(stack, f"public IPv4 address {name}", kind, "public_ipv4_hour", hours, "h")]
        if kind == "AWS::EC2::VPCEndpoint":
            if props.get("VpcEndpointType") != "Interface":
                return []  # gateway endpoints (S3, DynamoDB) have no charge
            service = str(props.get("ServiceName", "")).rsplit(".", 1)[-1]
            azs = len(props.get("SubnetIds", [])) or 1
            return [Usage(stack, f"{service} interface endpoint × {azs} AZs", kind, "interface_endpoint_az_hour",
                          hours * azs, "AZ-h", "data processed ($/GB) not estimated")]
        if kind == "AWS::EC2::Instance":
            return self._instance(stack, name, kind, props)
        if kind == "AWS::RDS::DBInstance":
            return self._db_instance(stack, name, kind, props, resources)
        if kind == "AWS::RDS::DBCluster":
            gb = self.assumptions["aurora_storage_gb"]
            return [Usage(stack, f"Aurora storage {props.get('Engine', '')}", kind, "aurora:storage_gb_month", gb,
                          "GB-month", f"assumed {gb:g} GB (it grows with the data); I/O requests not estimated")]
        if kind == "AWS::ElastiCache::ReplicationGroup":
            return [self._cache(stack, kind, props)]
        if kind == "AWS::KMS::Key":
            return [Usage(stack, f"KMS key {name}", kind, "kms:key_month", 1, "key-month",
                          "each of the first two yearly rotations adds a key-month")]
        if kind == "AWS::SecretsManager::Secret":
            return [Usage(stack, f"secret {name}", kind, "secretsmanager:secret_month", 1, "secret-month")]
        return self._table(stack, name, kind, props)

    def _instance(self, stack: str, name: str, kind: str, props: dict[str, Any]) -> list[Usage]:
        name = name.split("/")[0]  # Bastion/Host/Instance -> Bastion
        itype = props.get("InstanceType", "?")
        lines = [Usage(stack, f"EC2 {name} {itype}", kind, f"ec2:{itype}", self.hours, "h", "Linux, on demand")]
        for mapping in props.get("BlockDeviceMappings", []):
            ebs = mapping.get("Ebs", {})
            volume = ebs.get("VolumeType", "gp2")
            lines.append(Usage(stack, f"EBS {volume} root volume of {name}", kind, f"ebs:{volume}_gb_month",
                               float(ebs.get("VolumeSize", 8)), "GB-month"))
        if props.get("Monitoring") in (True, "true"):
            metrics = self.assumptions["ec2_detailed_monitoring_metrics"]
            lines.append(Usage(stack, f"detailed monitoring of {name}", kind, "cloudwatch:metric_month", metrics,
                               "metric-month", f"{metrics:g} EC2 metrics at 1-minute resolution"))
        return lines

    def _db_instance(self, stack: str, name: str, kind: str, props: dict[str, Any],
                     resources: dict[str, Any]) -> list[Usage]:
        klass = props.get("DBInstanceClass", "?")
        ident = props.get("DBInstanceIdentifier", name)
        if props.get("DBClusterIdentifier"):
            engine = props.get("Engine", "aurora")
            return [Usage(stack, f"Aurora {engine} instance {ident} {klass}", kind, f"aurora:{engine}:{klass}",
                          self.hours, "h", "Aurora Standard; readers in other AZs are the standbys")]
        source = resources.get(_ref(props.get("SourceDBInstanceIdentifier")) or "", {}).get("Properties", {})
        engine = props.get("Engine") or source.get("Engine", "?")
        copies = 2 if props.get("MultiAZ") in (True, "true") else 1
        multi = " Multi-AZ" if copies == 2 else ""
        role = "read replica" if source else "writer"
        lines = [Usage(stack, f"RDS {engine} {role} {ident} {klass}{multi}", kind, f"rds:{engine}:{klass}",
                       self.hours * copies, "h", "Multi-AZ: the standby is billed too (×2)" if copies == 2 else "")]
        storage = props.get("AllocatedStorage") or source.get("AllocatedStorage")
        volume = props.get("StorageType") or source.get("StorageType") or "gp2"
        if storage:
            ceiling = props.get("MaxAllocatedStorage") or source.get("MaxAllocatedStorage")
            note = (f"{'×2 for Multi-AZ; ' if copies == 2 else ''}as allocated"
                    + (f"; autoscaling to {ceiling} GiB not counted" if ceiling else ""))
            lines.append(Usage(stack, f"RDS {volume} storage of {ident}", kind, f"rds:{volume}_gb_month",
                               float(storage) * copies, "GB-month", note))
        return lines

    def _cache(self, stack: str, kind: str, props: dict[str, Any]) -> Usage:
        engine, node = props.get("Engine", "redis"), props.get("CacheNodeType", "?")
        if props.get("NumNodeGroups") or props.get("ReplicasPerNodeGroup") is not None:
            shards = int(props.get("NumNodeGroups", 1))
            per_shard = int(props.get("ReplicasPerNodeGroup", 0)) + 1
            nodes, shape = shards * per_shard, f"{shards} shards × {per_shard} nodes"
        else:
            nodes = int(props.get("NumCacheClusters", 1))
            shape = f"1 shard × {nodes} nodes"
        return Usage(stack, f"ElastiCache {engine} {node} × {nodes} nodes ({shape})", kind,
                     f"elasticache:{engine}:{node}", self.hours * nodes, "node-h")

    def _table(self, stack: str, name: str, kind: str, props: dict[str, Any]) -> list[Usage]:
        gb = self.assumptions["dynamodb_storage_gb"]
        label = props.get("TableName") or name
        lines = [Usage(stack, f"DynamoDB storage of {label}", kind, "dynamodb:storage_gb_month", gb, "GB-month",
                       f"assumed {gb:g} GB; indexes add their projected size")]
        replicas = props.get("Replicas", [props])
        if any(r.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled") for r in replicas):
            lines.append(Usage(stack, f"DynamoDB PITR of {label}", kind, "dynamodb:pitr_gb_month", gb, "GB-month",
                               f"on the assumed {gb:g} GB"))
        if props.get("BillingMode") == "PAY_PER_REQUEST":
            lines.append(Usage(stack, f"DynamoDB requests of {label} (on demand)", kind, None, 0, "",
                               "per request: not estimated"))
            return lines
        for unit, key in (("write", "dynamodb:wcu_hour"), ("read", "dynamodb:rcu_hour")):
            units = _minimum_capacity(props, unit)
            lines.append(Usage(stack, f"DynamoDB provisioned {unit} capacity of {label}", kind, key,
                               self.hours * units, "unit-h", f"{units} units: the autoscaling minimum, table and GSIs"))
        return lines

    def _alarms(self, stack: str, alarms: list[dict[str, Any]]) -> list[Usage]:
        standard = high = 0
        for props in alarms:
            metrics = [m for m in props.get("Metrics", []) if "MetricStat" in m] or [props]
            for metric in metrics:
                period = metric.get("MetricStat", {}).get("Period", metric.get("Period", 60))
                if int(period) < 60:
                    high += 1
                else:
                    standard += 1
        lines = []
        if standard:
            lines.append(Usage(stack, f"CloudWatch alarms ({len(alarms)} alarms, {standard} metrics)",
                               "AWS::CloudWatch::Alarm", "cloudwatch:alarm_metric_month", standard, "alarm-metric",
                               "billed per metric an alarm evaluates; free tier not deducted"))
        if high:
            lines.append(Usage(stack, f"high-resolution alarm metrics ({high})", "AWS::CloudWatch::Alarm",
                               "cloudwatch:high_resolution_alarm_metric_month", high, "alarm-metric"))
        return lines


def _minimum_capacity(props: dict[str, Any], unit: str) -> int:
    """Provisioned units at the autoscaling minimum (or the fixed capacity), table plus GSIs."""
    key = "WriteProvisionedThroughputSettings" if unit == "write" else "ReadProvisionedThroughputSettings"
    auto = "WriteCapacityAutoScalingSettings" if unit == "write" else "ReadCapacityAutoScalingSettings"
    total = 0
    owners = [props, *props.get("GlobalSecondaryIndexes", [])]
    if unit == "read":  # a global table keeps read capacity per replica
        replica = (props.get("Replicas") or [{}])[0]
        owners = [replica, *replica.get("GlobalSecondaryIndexes", [])]
    for owner in owners:
        settings = owner.get(key, {})
        total += int(settings.get(auto, {}).get("MinCapacity") or settings.get("WriteCapacityUnits")
                     or settings.get("ReadCapacityUnits") or 0)
    if "ProvisionedThroughput" in props:  # AWS::DynamoDB::Table
        total += int(props["ProvisionedThroughput"].get("WriteCapacityUnits" if unit == "write"
                                                         else "ReadCapacityUnits", 0))
    return total


def usage_lines(templates: Templates, assumptions: dict[str, float]) -> list[Usage]:
    return Reader(templates, assumptions).lines()
