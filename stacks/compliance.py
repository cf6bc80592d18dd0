"""The compliance gate that every synth runs: cdk-nag packs plus CDK's CloudFormation validation.

The built-in CloudFormation validation registers itself on every synth in aws-cdk-lib 2.275; the
`@aws-cdk/core:validateAgainstDefaultRules` flag in cdk.json makes its CDK rules errors, not warnings.
"""

from __future__ import annotations

from aws_cdk import App, Validations
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks


def add_compliance_checks(app: App) -> None:
    Validations.of(app).add_plugins(
        AwsSolutionsChecks(app, verbose=True),
        HIPAASecurityChecks(app, verbose=True),
        NIST80053R5Checks(app, verbose=True),
    )
