"""The compliance gate over every synthesized template of every environment.

cdk-nag (AwsSolutions, HIPAA, NIST 800-53 r5) and CDK's CloudFormation validation run inside synth
(the `dev`/`prod` fixtures raise on any unacknowledged finding); cfn-lint and checkov run here on
each `*.template.json`.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_logs as logs

from cdk_data_tier.stacks.compliance import add_compliance_checks
from tests.fixtures_synth import Synthesized

BIN = Path(sys.executable).parent
# Acknowledgments that aws-cdk-lib itself attaches to its own constructs.
CDK_OWN = {"CloudFormation-Validate::W3010", "CloudFormation-Validate::F3002", "CloudFormation-Validate::F3003"}
HONEST_REASON = re.compile(r"\b(wrong|deliberate)\b", re.IGNORECASE)


def _report(synth: Synthesized) -> dict:
    return json.loads((synth.outdir / "validation-report.json").read_text())


def test_every_stack_is_synthesized(each_env: Synthesized) -> None:
    names = {p.name.removesuffix(".template.json") for p in each_env.template_files()}
    assert f"{each_env.config.name}-Network" in names


def test_no_unacknowledged_findings_of_any_severity(each_env: Synthesized) -> None:
    report = _report(each_env)
    plugins = {p["pluginName"] for p in report["pluginReports"]}
    assert {"AwsSolutions", "HIPAA.Security", "NIST.800.53.R5"} <= plugins
    for plugin in report["pluginReports"]:
        assert plugin["violations"] == [], plugin["pluginName"]
        assert plugin["conclusion"] == "success"


def test_every_acknowledgment_says_why(each_env: Synthesized) -> None:
    for plugin in _report(each_env)["pluginReports"]:
        for finding in plugin.get("suppressedViolations", []):
            if finding["acknowledgedId"] in CDK_OWN:
                continue
            assert HONEST_REASON.search(finding["reason"]), (finding["acknowledgedId"], finding["reason"])


def test_cfn_lint_is_clean(each_env: Synthesized) -> None:
    files = [str(p) for p in each_env.template_files()]
    result = subprocess.run([str(BIN / "cfn-lint"), "--", *files], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_checkov_finds_nothing(each_env: Synthesized) -> None:
    cmd = [str(BIN / "checkov"), "--framework", "cloudformation", "--skip-download", "--quiet", "--compact",
           "-o", "json"]
    for path in each_env.template_files():
        cmd += ["-f", str(path)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = [(c["check_id"], c["resource"], c["file_path"]) for r in reports for c in r["results"].get("failed_checks", [])]
    assert failed == []
    for report in reports:
        assert report["summary"]["parsing_errors"] == 0
        for skipped in report["results"].get("skipped_checks", []):
            assert HONEST_REASON.search(skipped["check_result"].get("suppress_comment", "")), skipped["check_id"]


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
