"""Who may do what, read off the synthesized templates of a whole tier (every stack, every policy).

A role of the Network stack is granted by policies in every stack: its own managed policies there, and the
LocalGrantee policies of the data stacks, which name it through the Network stack's published outputs.
KMS keys may name it in their key policies the same way. These helpers resolve those references, so a
test can ask one question of all of them.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tests.fixtures_synth import Synthesized

CONCERNS = ("Network", "Database", "Dynamo", "Cache", "App")


@dataclass(frozen=True)
class Statement:
    stack: str
    source: str  # the logical ID of the policy or key holding it
    body: dict[str, Any]

    @property
    def actions(self) -> list[str]:
        actions = self.body.get("Action", [])
        return actions if isinstance(actions, list) else [actions]

    @property
    def resources(self) -> list[Any]:
        resources = self.body.get("Resource", [])
        return resources if isinstance(resources, list) else [resources]

    def stack_name(self, synth: Synthesized) -> str:
        return synth.config.stack_name(self.stack)

    def allows(self, action: str) -> bool:
        return self.body.get("Effect") == "Allow" and any(
            fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in self.actions)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _network_value(synth: Synthesized, ref: Any) -> Any:
    """What a data stack's reference to a Network resource points at, as the Network template writes it."""
    if isinstance(ref, dict) and "Fn::GetStackOutput" in ref:
        outputs = synth.template_json("Network")["Outputs"]
        return outputs[ref["Fn::GetStackOutput"]["OutputName"]]["Value"]
    return ref


def _names_role(synth: Synthesized, stack: str, ref: Any, role_id: str) -> bool:
    value = _network_value(synth, ref) if stack != "Network" else ref
    if not isinstance(value, dict):
        return False
    if value.get("Ref") == role_id:
        return True
    return value.get("Fn::GetAtt", [None])[0] == role_id


def role_statements(synth: Synthesized, role_id: str) -> Iterator[Statement]:
    """Every statement of every policy attached to the Network role `role_id`, in any stack."""
    network = synth.template_json("Network")["Resources"]
    role = network[role_id]["Properties"]
    assert not role.get("ManagedPolicyArns"), "AWS managed policies cannot be inspected here"
    for inline in role.get("Policies", []):
        for body in inline["PolicyDocument"]["Statement"]:
            yield Statement("Network", role_id, body)
    for stack in CONCERNS:
        for lid, res in synth.template_json(stack)["Resources"].items():
            props = res.get("Properties", {})
            if res["Type"] == "AWS::IAM::ManagedPolicy":
                attached = props.get("Roles", [])
            elif res["Type"] == "AWS::IAM::Policy":
                attached = props.get("Roles", [])
            else:
                continue
            if any(_names_role(synth, stack, r, role_id) for r in attached):
                for body in props["PolicyDocument"]["Statement"]:
                    yield Statement(stack, lid, body)


def key_policy_statements(synth: Synthesized) -> Iterator[Statement]:
    for stack in CONCERNS:
        for lid, res in synth.template_json(stack)["Resources"].items():
            if res["Type"] == "AWS::KMS::Key":
                for body in res["Properties"]["KeyPolicy"]["Statement"]:
                    yield Statement(stack, lid, body)


def names_principal(synth: Synthesized, statement: Statement, role_id: str) -> bool:
    principal = statement.body.get("Principal", {})
    if principal == "*" or principal == {"AWS": "*"}:
        return True
    refs = _as_list(principal.get("AWS", [])) if isinstance(principal, dict) else []
    return any(_names_role(synth, statement.stack, r, role_id) for r in refs)


def network_id(synth: Synthesized, construct: Any) -> str:
    network = synth.tier.network
    return network.get_logical_id(construct.node.default_child)


def egress_edges(synth: Synthesized, group_id: str) -> set[tuple[str, str, int, int]]:
    """(stack, peer, from port, to port) of every egress rule of the Network security group `group_id`.

    The peer is a CIDR, or `<stack>:<logical ID>` of the destination group.
    """
    edges = set()
    network = synth.template_json("Network")["Resources"]
    for rule in network[group_id]["Properties"].get("SecurityGroupEgress", []):
        edges.add(("Network", rule.get("CidrIp") or rule.get("CidrIpv6"), rule.get("FromPort", -1),
                   rule.get("ToPort", -1)))
    for stack in CONCERNS:
        for res in synth.template_json(stack)["Resources"].values():
            if res["Type"] != "AWS::EC2::SecurityGroupEgress":
                continue
            props = res["Properties"]
            if not _names_role(synth, stack, props["GroupId"], group_id):
                continue
            peer = props.get("CidrIp") or f"{stack}:{props['DestinationSecurityGroupId']['Fn::GetAtt'][0]}"
            edges.add((stack, peer, props["FromPort"], props["ToPort"]))
    return edges
