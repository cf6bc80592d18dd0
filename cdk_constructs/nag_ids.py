"""Resource strings the way cdk-nag writes them into granular finding IDs (`AwsSolutions-IAM5[Resource::...]`).

cdk-nag prints the resolved value, with pseudo parameters and references as `<AWS::Region>` or `<Id.Arn>`.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack


def nag_rendered(stack: Stack, value: str) -> str:
    return _render(stack.resolve(value))


def _render(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return f"<{'.'.join(value['Fn::GetAtt'])}>"
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(_render(p) for p in parts)
    raise ValueError(f"cannot render {value!r} as cdk-nag does")
