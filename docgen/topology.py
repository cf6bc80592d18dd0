"""What the architecture picture shows, read from one environment's templates (JSON only).

Stacks become clusters; the VPC's tiers, the hosts, the database's writer, standbys and replicas (or the
Aurora writer and readers), the table and its indexes, and the cache's shards and replicas become nodes.
Security-group rules (standalone and inline) become edges between the resources that carry the groups,
and cross-stack references (Fn::GetStackOutput, Fn::ImportValue) edges between the stacks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from docgen.assembly import StackTemplate

Ref = tuple[str, str]  # (stack name, logical id)
TIER_KIND = {"Public": "public", "Private": "private with egress", "Isolated": "isolated"}
# CDK's placeholder rule on a group that allows no outbound traffic: not a real edge.
_NO_TRAFFIC = {"CidrIp": "255.255.255.255/32", "IpProtocol": "icmp"}
_RULE_TYPES = ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress", "AWS::EC2::SecurityGroup")
SUMMARIZED = {"AWS::KMS::Key": "KMS keys", "AWS::SecretsManager::Secret": "secrets",
              "AWS::CloudWatch::Alarm": "alarms", "AWS::Logs::LogGroup": "log groups", "AWS::SNS::Topic": "topics",
              "AWS::Backup::BackupVault": "backup vaults"}


@dataclass(frozen=True)
class Node:
    id: str
    label: str
    cluster: str
    shape: str = "box"


@dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    label: str
    kind: str  # "sg", "xstack", "replication", "route", "index"
    lhead: str = ""
    ltail: str = ""


@dataclass
class Topology:
    env: str
    clusters: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (label, parent id or "")
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)

    def cluster(self, cluster_id: str, label: str, parent: str = "") -> str:
        self.clusters.setdefault(cluster_id, (label, parent))
        return cluster_id

    def node(self, node: Node) -> str:
        if all(n.id != node.id for n in self.nodes):
            self.nodes.append(node)
        return node.id

    def edge(self, edge: Edge) -> None:
        if edge not in self.edges and edge.src != edge.dst:
            self.edges.append(edge)


def _ident(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", "_".join(parts))


class Reader:
    """Resolves references across the environment's stacks and builds the Topology."""

    def __init__(self, stacks: list[StackTemplate]) -> None:
        self.stacks = {s.name: s for s in stacks}
        self.topo = Topology(env=stacks[0].env if stacks else "")
        # Where an edge to a resource lands: (node, cluster that node stands for, or "").
        self.anchor: dict[Ref, tuple[str, str]] = {}

    # -- references --------------------------------------------------------------------------
    def resolve(self, stack: StackTemplate, value: Any) -> Ref | None:
        if not isinstance(value, dict):
            return None
        if isinstance(value.get("Ref"), str) and value["Ref"] in stack.resources:
            return stack.name, value["Ref"]
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            logical = target[0] if isinstance(target, list) else str(target).split(".")[0]
            return (stack.name, logical) if logical in stack.resources else None
        producer, output = self._imported(value)
        if producer is not None and output is not None:
            return self.resolve(producer, output.get("Value"))
        return None

    def _imported(self, value: dict[str, Any]) -> tuple[StackTemplate | None, dict[str, Any] | None]:
        if "Fn::GetStackOutput" in value:
            spec = value["Fn::GetStackOutput"]
            producer = self.stacks.get(spec.get("StackName", ""))
            if producer is not None:
                return producer, producer.template.get("Outputs", {}).get(spec.get("OutputName", ""))
        if "Fn::ImportValue" in value:
            for producer in self.stacks.values():
                for output in producer.template.get("Outputs", {}).values():
                    if output.get("Export", {}).get("Name") == value["Fn::ImportValue"]:
                        return producer, output
        return None, None

    def references(self, stack: StackTemplate, value: Any) -> Iterator[Ref]:
        if isinstance(value, dict):
            found = self.resolve(stack, value)
            if found is not None:
                yield found
                return
            for item in value.values():
                yield from self.references(stack, item)
        elif isinstance(value, list):
            for item in value:
                yield from self.references(stack, item)

    def imports(self, stack: StackTemplate, value: Any) -> Iterator[Ref]:
        """The other stacks' resources that `value` takes through cross-stack references."""
        if isinstance(value, dict):
            producer, output = self._imported(value)
            if producer is not None and output is not None:
                found = self.resolve(producer, output.get("Value"))
                if found is not None:
                    yield found
                return
            for item in value.values():
                yield from self.imports(stack, item)
        elif isinstance(value, list):
            for item in value:
                yield from self.imports(stack, item)

    # -- names -------------------------------------------------------------------------------
    def path(self, ref: Ref) -> str:
        """The resource's construct path, from its Name tag or its logical id: never from aws:cdk:path
        metadata, which the CLI writes and an in-process synth (the tests') does not."""
        stack = self.stacks[ref[0]]
        tags = stack.resources[ref[1]].get("Properties", {}).get("Tags", [])
        name = next((t["Value"] for t in tags if isinstance(t, dict) and t.get("Key") == "Name"), None)
        if isinstance(name, str) and name.startswith(f"{stack.name}/"):
            return name.removeprefix(f"{stack.name}/")
        return re.sub(r"[0-9A-F]{8}$", "", ref[1])

    def node_id(self, ref: Ref) -> str:
        return _ident(self.stacks[ref[0]].concern, ref[1])

    def place(self, ref: Ref, label: str, cluster: str, shape: str = "box", group: str = "") -> str:
        node = self.topo.node(Node(self.node_id(ref), label, cluster, shape))
        self.anchor.setdefault(ref, (node, group))
        return node

    # -- the whole picture -------------------------------------------------------------------
    def build(self) -> Topology:
        for stack in self.stacks.values():
            top = self.topo.cluster(_ident("cluster", stack.concern), f"{stack.name} ({stack.region})")
            self._header(stack, top)
            for logical, res in stack.resources.items():
                self._resource(stack, (stack.name, logical), res, top)
        for stack in self.stacks.values():
            self._security_edges(stack)
            self._cross_stack_edges(stack)
        return self.topo

    def _header(self, stack: StackTemplate, cluster: str) -> None:
        counts: dict[str, int] = {}
        for res in stack.resources.values():
            if res["Type"] in SUMMARIZED:
                counts[SUMMARIZED[res["Type"]]] = counts.get(SUMMARIZED[res["Type"]], 0) + 1
        lines = [stack.name, "outputs: " + (", ".join(stack.public_outputs()) or "none")]
        if counts:
            lines.append("also: " + ", ".join(f"{n} {what}" for what, n in counts.items()))
        self.topo.node(Node(_ident(stack.concern, "stack"), "\n".join(_wrap(lines)), cluster, "note"))

    def _resource(self, stack: StackTemplate, ref: Ref, res: dict[str, Any], top: str) -> None:
        kind, props = res["Type"], res.get("Properties", {})
        handler = {
            "AWS::EC2::VPC": self._vpc, "AWS::EC2::Subnet": self._subnet, "AWS::EC2::NatGateway": self._nat,
            "AWS::EC2::InternetGateway": self._igw, "AWS::EC2::Instance": self._instance,
            "AWS::EC2::VPCEndpoint": self._endpoint, "AWS::RDS::DBInstance": self._db_instance,
            "AWS::RDS::DBCluster": self._db_cluster, "AWS::DynamoDB::GlobalTable": self._table,
            "AWS::DynamoDB::Table": self._table, "AWS::ElastiCache::ReplicationGroup": self._cache,
            "AWS::Lambda::Function": self._function, "AWS::Serverless::Application": self._function,
            "AWS::EC2::Route": self._route,
        }.get(kind)
        if handler is not None:
            handler(stack, ref, props, top)

    # -- network -----------------------------------------------------------------------------
    def _vpc(self, stack: StackTemplate, ref: Ref, props: dict[str, Any], top: str) -> None:
        self.place(ref, f"VPC {props.get('CidrBlock', '')}", top, "box3d")

    def _tier_of(self, stack: StackTemplate, subnet: Ref) -> str:
        stack = self.stacks[subnet[0]]  # the subnet's own stack, whoever refers to it
        name, kind = self._tier_name(subnet)
        top = _ident("cluster", stack.concern)
        return self.topo.cluster(_ident("cluster", stack.concern, "tier", name),
                                 f"{name} subnets: {TIER_KIND.get(kind, kind.lower())}", top)

    def _tier_name(self, subnet: Ref) -> tuple[str, str]:
        props = self.stacks[subnet[0]].resources[subnet[1]].get("Properties", {})
        tags = {t["Key"]: t["Value"] for t in props.get("Tags", [])}
        return tags.get("aws-cdk:subnet-name", "subnets"), tags.get("aws-cdk:subnet-type", "")

    def _subnet(self, stack: StackTemplate, ref: Ref, props: dict[str, Any], top: str) -> None:
        self.place(ref, f"{props.get('AvailabilityZone', '?')}\n{props.get('CidrBlock', '')}",
                   self._tier_of(stack, ref), "component")

    def _az_of(self, stack: StackTemplate, subnet: Any) -> str:
        found = self.resolve(stack, subnet)
        if found is None:
            return "?"
        return str(self.stacks[found[0]].resources[found[1]].get("Properties", {}).get("AvailabilityZone", "?"))

    def _nat(self, stack: StackTemplate, ref: Ref, props: dict[str, Any], top: str) -> None:
        subnet = self.resolve(stack, props.get("SubnetId"))
        cluster = self._tier_of(stack, subnet) if subnet else top
        self.place(ref, f"NAT gateway\n{self._az_of(stack, props.get('SubnetId'))}", cluster, "octagon")

    def _igw(self, stack: StackTemplate, ref: Ref, props: dict[str, Any], top: str) -> None:
        self.place(ref, "internet gateway", top, "doubleoctagon")

    def _route(self, stack: StackTemplate, ref: Ref, props: dict[str, Any], top: str) -> None:
        target = self.resolve(stack, props.get("NatGatewayId") or props.get("GatewayId"))
        table = self.resolve(stack, props.get("RouteTableId"))
        if target is None or table is None:
            return
        for res in stack.resources.values():
            p = res.get("Properties", {})
            if res["Type"] == "AWS::EC2::SubnetRouteTableAssociation" and self.resolve(stack, p.get("RouteTableId")) \
                    == table:
                subnet = self.resolve(stack, p.get("SubnetId"))
                if subnet is not None:
                    self.topo.edge(Edge(self.node_id(subnet), self.node_id(target),
                                        props.get("DestinationCidrBlock", ""), "route"))

    def _instance(self, stack: StackTemplate, ref: Ref, props: dict[str, Any], top: str) -> None:
        subnet = self.resolve(stack, props.get("SubnetId"))
        name = self.path(ref).split("/")[0]
        label = f"{name} (EC2)\n{props.get('InstanceType', '?')} · {props.get('AvailabilityZone', '?')}"
        if subnet is not None and subnet[0] != stack.name:
            # An instance of another stack than its subnet's stays in its own stack's cluster, naming the tier.
            label += f"\nin {subnet[0]}'s {self._tier_name(subnet)[0]} subnets"
            self.place(ref, label, top)
        else:
            self.place(ref, label, self._tier_of(stack, subnet) if subnet else top)

    def _endpoint(self, stack: StackTemplate, ref: Ref, props: dict[str, Any], top: str) -> None:
        service = props.get("ServiceName", "")
        if isinstance(service, dict):  # com.amazonaws.<region>.s3 spelled with Fn::Join
            service = "".join(p for p in service.get("Fn::Join", ["", []])[1] if isinstance(p, str))
        short = str(service).rsplit(".", 1)[-1]
        kind = props.get("VpcEndpointType", "Gateway").lower()
        azs = f" × {len(props['SubnetIds'])} AZs" if isinstance(props.get("SubnetIds"), list) else ""
        self.place(ref, f"{short} {kind} endpoint{azs}", top, "cds")

    def _function(self, stack: StackTemplate, ref: Ref, props: dict[str, Any], top: str) -> None:
        what = "Lambda" if "Code" in props else "SAR application (Lambda)"
        # A CDK-internal provider carries no path metadata when synthesized in-process: say what it does.
        name = props.get("Description") or self.path(ref)
        self.place(ref, "\n".join(_wrap([f"{what}: {name}"], 40, " ")), top, "component")

    # -- data stores -------------------------------------------------------------------------
    def _store_cluster(self, stack: StackTemplate, label: str, top: str) -> str:
        return self.topo.cluster(_ident("cluster", stack.concern, "store"), label, top)

    def _db_instance(self, stack: StackTemplate, ref: Ref, props: dict[str, Any], top: str) -> None:
        member_of = self.resolve(stack, props.get("DBClusterIdentifier"))
        source = next(self.references(stack, props.get("SourceDBInstanceIdentifier")), None) \
            if props.get("SourceDBInstanceIdentifier") else None
        engine = props.get("Engine") or ""
        if member_of is not None:
            role = "writer" if "writer" in self.path(ref).lower() else "reader"
            cluster = self._store_cluster(stack, f"Aurora cluster ({engine})", top)
            detail = props.get("DBInstanceClass", "?")
        else:
            role = "read replica" if source else "writer"
            cluster = self._store_cluster(stack, "RDS instances", top)
            version = f"{engine} {props.get('EngineVersion', '')}".strip()  # a replica's engine is its source's
            detail = " · ".join(p for p in (version, props.get("DBInstanceClass", "?")) if p)
            storage = props.get("AllocatedStorage")
            if storage:
                detail += f"\n{storage} GiB {props.get('StorageType', 'gp2')}"
        name = props.get("DBInstanceIdentifier") or self.path(ref)
        node = self.place(ref, f"{role}: {name}\n{detail}", cluster, "cylinder", cluster)
        if source is not None:
            self.topo.edge(Edge(self.node_id(source), node, "async replication", "replication"))
        if member_of is not None:
            self.topo.edge(Edge(self.node_id(member_of), node, role, "replication"))
            self.anchor[member_of] = (self.anchor.get(member_of, (node, cluster))[0], cluster)
            if role == "writer":
                self.anchor[member_of] = (node, cluster)
        if props.get("MultiAZ") in (True, "true"):
            standby = self.topo.node(Node(f"{node}_standby", f"standby of {name}\n(Multi-AZ, no reads)", cluster,
                                          "cylinder"))
            self.topo.edge(Edge(node, standby, "synchronous", "replication"))

    def _db_cluster(self, stack: StackTemplate, ref: Ref, props: dict[str, Any], top: str) -> None:
        cluster = self._store_cluster(stack, f"Aurora cluster ({props.get('Engine', '')})", top)
        label = f"cluster volume\n{props.get('Engine', '')} {props.get('EngineVersion', '')}\nstorage grows by itself"
        self.place(ref, label, cluster, "folder", cluster)

    def _table(self, stack: StackTemplate, ref: Ref, props: dict[str, Any], top: str) -> None:
        cluster = self._store_cluster(stack, "DynamoDB table", top)
        billing = "on demand" if props.get("BillingMode") == "PAY_PER_REQUEST" else "provisioned"
        name = props.get("TableName") or self.path(ref)
        table = self.place(ref, f"table {name}\n{_keys(props)} · {billing}", cluster, "tab", cluster)
        for kind, key in (("GSI", "GlobalSecondaryIndexes"), ("LSI", "LocalSecondaryIndexes")):
            for index in props.get(key, []):
                projection = index.get("Projection", {}).get("ProjectionType", "")
                node = self.topo.node(Node(_ident(table, index["IndexName"]),
                                           f"{kind} {index['IndexName']}\n{_keys(index)} · {projection}", cluster,
                                           "note"))
                self.topo.edge(Edge(table, node, kind, "index"))

    def _cache(self, stack: StackTemplate, ref: Ref, props: dict[str, Any], top: str) -> None:
        mode = props.get("ClusterMode")
        enabled = mode == "enabled" if mode else int(props.get("NumNodeGroups", 1)) > 1
        shards = int(props.get("NumNodeGroups", 1)) if enabled else 1
        replicas = int(props["ReplicasPerNodeGroup"]) if "ReplicasPerNodeGroup" in props \
            else int(props.get("NumCacheClusters", 1)) - 1
        label = (f"replication group: {props.get('Engine', '')} {props.get('EngineVersion', '')} · "
                 f"{props.get('CacheNodeType', '')} · cluster mode {'on' if enabled else 'off'}: "
                 f"{shards} shard(s) × {replicas} replica(s)")
        group = self._store_cluster(stack, label, top)
        for shard in range(1, shards + 1):
            where = self.topo.cluster(_ident(group, "shard", str(shard)), f"shard {shard}", group) if enabled \
                else group
            primary = self.topo.node(Node(_ident(self.node_id(ref), "shard", str(shard)), f"shard {shard} primary",
                                          where, "cylinder"))
            self.anchor.setdefault(ref, (primary, group))
            for replica in range(1, replicas + 1):
                node = self.topo.node(Node(f"{primary}_replica_{replica}", f"shard {shard} replica {replica}",
                                           where, "cylinder"))
                self.topo.edge(Edge(primary, node, "async replication", "replication"))

    # -- edges -------------------------------------------------------------------------------
    def _owners(self, group: Ref) -> list[tuple[str, str]]:
        """The drawn nodes of the resources that carry security group `group`, in any stack (an instance may take
        its group from another stack), or the group itself if none."""
        stack = self.stacks[group[0]]
        found: list[tuple[str, str]] = []
        for carrier in self.stacks.values():
            for logical, res in carrier.resources.items():
                if res["Type"] in _RULE_TYPES:
                    continue
                if group in set(self.references(carrier, _group_slots(res.get("Properties", {})))):
                    anchor = self.anchor.get((carrier.name, logical))
                    if anchor is None:
                        node = self.place((carrier.name, logical),
                                          f"{self.path((carrier.name, logical))}\n{res['Type']}",
                                          _ident("cluster", carrier.concern))
                        anchor = (node, "")
                    # Several members of one drawn group (writer and replicas) are one edge to the group.
                    if anchor not in found and not (anchor[1] and any(a[1] == anchor[1] for a in found)):
                        found.append(anchor)
        if not found:
            found.append((self.place(group, f"security group\n{self.path(group)}", _ident("cluster", stack.concern),
                                     "hexagon"), ""))
        return found

    def _peer(self, stack: StackTemplate, rule: dict[str, Any], *keys: str) -> list[tuple[str, str]]:
        for key in keys:
            if key in rule:
                found = self.resolve(stack, rule[key])
                if found is not None:
                    return self._owners(found)
        cidr = rule.get("CidrIp") or rule.get("CidrIpv6") or rule.get("SourcePrefixListId") \
            or rule.get("DestinationPrefixListId")
        if not isinstance(cidr, str):
            return []
        return [(self.topo.node(Node(_ident("cidr", cidr), cidr, "", "ellipse")), "")]

    def _rule(self, sources: list[tuple[str, str]], targets: list[tuple[str, str]], rule: dict[str, Any]) -> None:
        protocol = str(rule.get("IpProtocol", "-1"))
        low, high = rule.get("FromPort"), rule.get("ToPort")
        ports = "all" if protocol == "-1" else f"{protocol} {low}" if low == high else f"{protocol} {low}-{high}"
        for src, src_cluster in sources:
            for dst, dst_cluster in targets:
                self.topo.edge(Edge(src, dst, ports, "sg", lhead=dst_cluster, ltail=src_cluster))

    def _security_edges(self, stack: StackTemplate) -> None:
        for logical, res in stack.resources.items():
            props = res.get("Properties", {})
            kind = res["Type"]
            if kind == "AWS::EC2::SecurityGroupIngress":
                group = self.resolve(stack, props.get("GroupId"))
                if group:
                    self._rule(self._peer(stack, props, "SourceSecurityGroupId"), self._owners(group), props)
            elif kind == "AWS::EC2::SecurityGroupEgress":
                group = self.resolve(stack, props.get("GroupId"))
                if group:
                    self._rule(self._owners(group), self._peer(stack, props, "DestinationSecurityGroupId"), props)
            elif kind == "AWS::EC2::SecurityGroup":
                owners = None
                for rule in props.get("SecurityGroupIngress", []):
                    owners = owners or self._owners((stack.name, logical))
                    self._rule(self._peer(stack, rule, "SourceSecurityGroupId"), owners, rule)
                for rule in props.get("SecurityGroupEgress", []):
                    if all(rule.get(k) == v for k, v in _NO_TRAFFIC.items()):
                        continue
                    owners = owners or self._owners((stack.name, logical))
                    self._rule(owners, self._peer(stack, rule, "DestinationSecurityGroupId"), rule)

    def _cross_stack_edges(self, stack: StackTemplate) -> None:
        taken: dict[str, list[str]] = {}
        for res in stack.resources.values():
            for producer, logical in self.imports(stack, res.get("Properties", {})):
                name = self.path((producer, logical))
                if name not in taken.setdefault(producer, []):
                    taken[producer].append(name)
        for producer, names in taken.items():
            self.topo.edge(Edge(_ident(stack.concern, "stack"), _ident(self.stacks[producer].concern, "stack"),
                                "imports " + "\n".join(_wrap([", ".join(sorted(names))])), "xstack"))


def _group_slots(value: Any) -> list[Any]:
    """The values under keys that carry security groups (SecurityGroupIds, VPCSecurityGroups, VpcConfig's, a
    SAR application's vpcSecurityGroupIds): a policy that merely names a group does not carry it."""
    found: list[Any] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if "securitygroup" in key.lower():
                found.append(item)
            else:
                found += _group_slots(item)
    elif isinstance(value, list):
        for item in value:
            found += _group_slots(item)
    return found


def _keys(props: dict[str, Any]) -> str:
    return " ".join(f"{k['AttributeName']} ({'PK' if k['KeyType'] == 'HASH' else 'SK'})"
                    for k in props.get("KeySchema", []))


def _wrap(lines: list[str], width: int = 60, sep: str = ", ") -> list[str]:
    """Long label lines broken at `sep` so that the notes stay narrow."""
    out: list[str] = []
    for line in lines:
        current = ""
        for part in line.split(sep):
            candidate = f"{current}{sep}{part}" if current else part
            if current and len(candidate) > width:
                out.append(current + sep.rstrip())
                current = part
            else:
                current = candidate
        out.append(current)
    return out


def read(stacks: list[StackTemplate]) -> Topology:
    return Reader(stacks).build()
