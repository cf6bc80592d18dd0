"""The compliance gate over every synthesized template of every environment.

cdk-nag (AwsSolutions, HIPAA, NIST 800-53 r5) and CDK's CloudFormation validation run inside synth
(the `dev`/`prod` fixtures raise on any unacknowledged finding); cfn-lint and checkov run here on
each `*.template.json`.
"""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_logs as logs

from cdk_data_tier.stacks.compliance import add_compliance_checks
from tests.compliance.gate import (
    assert_acknowledgments_say_why,
    assert_cfn_lint_clean,
    assert_checkov_clean,
    assert_nag_clean,
)
from tests.fixtures_synth import Synthesized


def test_every_stack_is_synthesized(each_env: Synthesized) -> None:
    names = {p.name.removesuffix(".template.json") for p in each_env.template_files()}
    assert f"{each_env.config.name}-Network" in names


def test_no_unacknowledged_findings_of_any_severity(each_env: Synthesized) -> None:
    assert_nag_clean(each_env.outdir)


def test_every_acknowledgment_says_why(each_env: Synthesized) -> None:
    assert_acknowledgments_say_why(each_env.outdir)


def test_cfn_lint_is_clean(each_env: Synthesized) -> None:
    assert_cfn_lint_clean(each_env.template_files())


def test_checkov_finds_nothing(each_env: Synthesized) -> None:
    assert_checkov_clean(each_env.template_files())


def test_the_gate_fails_synth_on_a_finding(tmp_path: Path) -> None:
    """Proves the gate is live: an unencrypted log group and a malformed resource stop synth."""
    app = cdk.App(outdir=str(tmp_path), context={"@aws-cdk/core:validateAgainstDefaultRules": True})
    stack = cdk.Stack(app, "Leaky")
    logs.CfnLogGroup(stack, "Logs", retention_in_days=13)
    add_compliance_checks(app)
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    rules = {v["ruleName"] for p in report["pluginReports"] for v in p["violations"]}
    assert "W3030" in rules
    assert any(rule.startswith("HIPAA.Security-CloudWatchLogGroupEncrypted") for rule in rules)
