"""Record a checkov skip on a resource, in the template, next to the resource it excuses.

checkov reads `Metadata.checkov.skip` from CloudFormation resources; every skip carries the reason
a reviewer needs (the rule is wrong here, or the trade-off is deliberate).
"""

from __future__ import annotations

from constructs import IConstruct

from cdk_data_tier.constructs.cfn_resource import cfn_resource


def skip_checkov(construct: IConstruct | None, **reasons: str) -> None:
    """`skip_checkov(cfn_or_l2, CKV_AWS_116="...")`: one keyword per check ID, its value the reason."""
    resource = cfn_resource(construct)
    existing = resource.get_metadata("checkov") or {"skip": []}
    skips = list(existing["skip"]) + [{"id": check, "comment": why} for check, why in reasons.items()]
    resource.add_metadata("checkov", {"skip": skips})
