"""Fill the templates' Outputs with the twin's values, by evaluating their intrinsic functions.

Ref and Fn::GetAtt of a resource the twin built give the twin's physical id or attribute (a
loopback `host:port` for endpoints, a moto ARN for secrets and tables). An output whose value
needs anything the twin did not build stays unfilled and is reported, so a new output key in a
stack shows up as a fidelity failure instead of a silently missing endpoint.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# Outputs CDK adds for its own cross-stack references (consumed by Fn::GetStackOutput / ImportValue).
INTERNAL_PREFIXES = ("ExportsOutput", "PublishOutput")


class Unresolved(Exception):
    """An intrinsic the twin has no value for."""


@dataclass
class Physical:
    ref: str
    attrs: dict[str, str] = field(default_factory=dict)


def contract_keys(template: dict[str, Any]) -> list[str]:
    return [key for key in template.get("Outputs", {}) if not key.startswith(INTERNAL_PREFIXES)]


class Resolver:
    def __init__(self, templates: dict[str, dict[str, Any]], physical: dict[tuple[str, str], Physical],
                 account: str, region: str) -> None:
        self.templates = templates
        self.physical = physical
        self.account = account
        self.region = region
        self._cache: dict[tuple[str, str], str] = {}

    def outputs(self) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:
        """({stack: {key: value}}, {stack: {key: why it is unfilled}}) for every contract output."""
        filled: dict[str, dict[str, str]] = {}
        missing: dict[str, dict[str, str]] = {}
        for stack, body in self.templates.items():
            filled[stack] = {}
            for key in contract_keys(body):
                try:
                    output = body["Outputs"][key]
                    if "Condition" in output and not self.condition(stack, output["Condition"]):
                        continue
                    filled[stack][key] = self.output(stack, key)
                except Unresolved as why:
                    missing.setdefault(stack, {})[key] = str(why)
        return filled, missing

    def output(self, stack: str, key: str) -> str:
        if (stack, key) not in self._cache:
            outputs = self.templates.get(stack, {}).get("Outputs", {})
            if key not in outputs:
                raise Unresolved(f"output {stack}.{key} does not exist")
            self._cache[(stack, key)] = _text(self.resolve(stack, outputs[key]["Value"]))
        return self._cache[(stack, key)]

    def condition(self, stack: str, name: str) -> bool:
        expr = self.templates[stack].get("Conditions", {}).get(name)
        if expr is None:
            raise Unresolved(f"condition {name} does not exist")
        return bool(self.resolve(stack, expr))

    # -- intrinsics -----------------------------------------------------------------------------
    def resolve(self, stack: str, value: Any) -> Any:  # noqa: C901, PLR0911, PLR0912 - one branch per intrinsic
        if isinstance(value, (str, int, float, bool)):
            return value
        if isinstance(value, list):
            return [self.resolve(stack, v) for v in value]
        if not isinstance(value, dict) or len(value) != 1:
            raise Unresolved(f"not an intrinsic: {str(value)[:80]}")
        (fn, arg), = value.items()
        if fn == "Ref":
            return self.ref(stack, arg)
        if fn == "Fn::GetAtt":
            lid, attr = (arg[0], arg[1]) if isinstance(arg, list) else str(arg).split(".", 1)
            return self.getatt(stack, lid, attr)
        if fn == "Fn::Join":
            sep, items = arg
            parts = self.resolve(stack, items)
            return str(sep).join(_text(p) for p in parts)
        if fn == "Fn::Select":
            index, items = arg
            return self.resolve(stack, items)[int(self.resolve(stack, index))]
        if fn == "Fn::Split":
            sep, text = arg
            return _text(self.resolve(stack, text)).split(sep)
        if fn == "Fn::Sub":
            return self.sub(stack, arg)
        if fn == "Fn::If":
            name, yes, no = arg
            return self.resolve(stack, yes if self.condition(stack, name) else no)
        if fn == "Fn::Equals":
            a, b = (self.resolve(stack, v) for v in arg)
            return _text(a) == _text(b)
        if fn == "Fn::Not":
            return not self.resolve(stack, arg[0])
        if fn == "Fn::And":
            return all(self.resolve(stack, v) for v in arg)
        if fn == "Fn::Or":
            return any(self.resolve(stack, v) for v in arg)
        if fn == "Condition":
            return self.condition(stack, arg)
        if fn == "Fn::GetStackOutput":
            return self.output(arg["StackName"], arg["OutputName"])
        if fn == "Fn::ImportValue":
            return self.import_value(_text(self.resolve(stack, arg)))
        raise Unresolved(f"{fn} is not evaluated by the twin")

    def ref(self, stack: str, name: str) -> str:
        pseudo = {"AWS::Region": self.region, "AWS::AccountId": self.account, "AWS::StackName": stack,
                  "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com", "AWS::NoValue": ""}
        if name in pseudo:
            return pseudo[name]
        if (stack, name) in self.physical:
            return self.physical[(stack, name)].ref
        param = self.templates[stack].get("Parameters", {}).get(name)
        if param is not None and "Default" in param and not str(param.get("Type", "")).startswith("AWS::SSM"):
            return str(param["Default"])
        kind = self.templates[stack].get("Resources", {}).get(name, {}).get("Type", "unknown")
        raise Unresolved(f"Ref {name} ({kind}) is not built by the twin")

    def getatt(self, stack: str, lid: str, attr: str) -> str:
        physical = self.physical.get((stack, lid))
        if physical is None or attr not in physical.attrs:
            kind = self.templates[stack].get("Resources", {}).get(lid, {}).get("Type", "unknown")
            raise Unresolved(f"Fn::GetAtt {lid}.{attr} ({kind}) is not built by the twin")
        return physical.attrs[attr]

    def sub(self, stack: str, arg: Any) -> str:
        text, variables = (arg[0], arg[1]) if isinstance(arg, list) else (arg, {})

        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return _text(self.resolve(stack, variables[name]))
            if "." in name and not name.startswith("AWS::"):
                lid, attr = name.split(".", 1)
                return self.getatt(stack, lid, attr)
            return self.ref(stack, name)

        return re.sub(r"\$\{([^}]+)\}", one, text)

    def import_value(self, export: str) -> str:
        for stack, body in self.templates.items():
            for key, output in body.get("Outputs", {}).items():
                name = output.get("Export", {}).get("Name")
                if name is not None and _text(self.resolve(stack, name)) == export:
                    return self.output(stack, key)
        raise Unresolved(f"no export named {export}")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    return str(value)
