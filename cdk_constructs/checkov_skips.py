"""Record a checkov skip on a resource, in the template, next to the resource it excuses.

checkov reads `Metadata.checkov.skip` from CloudFormation resources; every skip carries the reason
a reviewer needs (the rule is wrong here, or the trade-off is deliberate).
"""

from __future__ import annotations

from aws_cdk import CfnResource


def skip_checkov(resource: CfnResource, **reasons: str) -> None:
    """`skip_checkov(cfn, CKV_AWS_116="...")`: one keyword per check ID, its value the reason."""
    existing = resource.get_metadata("checkov") or {"skip": []}
    skips = list(existing["skip"]) + [{"id": check, "comment": why} for check, why in reasons.items()]
    resource.add_metadata("checkov", {"skip": skips})
