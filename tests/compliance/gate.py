"""The compliance gate's three checks over a synthesized cloud assembly, for any app's templates.

cdk-nag (AwsSolutions, HIPAA, NIST 800-53 r5) runs inside synth and writes validation-report.json; cfn-lint
and checkov run here on each `*.template.json`. Every acknowledgment and skip must say why it is right.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
# Acknowledgments that aws-cdk-lib itself attaches to its own constructs.
CDK_OWN = {"CloudFormation-Validate::W3010", "CloudFormation-Validate::F3002", "CloudFormation-Validate::F3003"}
HONEST_REASON = re.compile(r"\b(wrong|deliberate)\b", re.IGNORECASE)
NAG_PACKS = {"AwsSolutions", "HIPAA.Security", "NIST.800.53.R5"}


def nag_report(outdir: Path) -> dict[str, Any]:
    return json.loads((outdir / "validation-report.json").read_text())


def assert_nag_clean(outdir: Path) -> None:
    """Every pack ran and found nothing unacknowledged, of any severity."""
    report = nag_report(outdir)
    assert NAG_PACKS <= {p["pluginName"] for p in report["pluginReports"]}
    for plugin in report["pluginReports"]:
        assert plugin["violations"] == [], plugin["pluginName"]
        assert plugin["conclusion"] == "success"


def assert_acknowledgments_say_why(outdir: Path) -> None:
    for plugin in nag_report(outdir)["pluginReports"]:
        for finding in plugin.get("suppressedViolations", []):
            if finding["acknowledgedId"] not in CDK_OWN:
                assert HONEST_REASON.search(finding["reason"]), (finding["acknowledgedId"], finding["reason"])


def assert_cfn_lint_clean(files: list[Path]) -> None:
    result = subprocess.run([str(BIN / "cfn-lint"), "--", *map(str, files)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def assert_checkov_clean(files: list[Path]) -> None:
    """No failed check, no parsing error, and every skip says why."""
    cmd = [str(BIN / "checkov"), "--framework", "cloudformation", "--skip-download", "--quiet", "--compact",
           "-o", "json"]
    for path in files:
        cmd += ["-f", str(path)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = [(c["check_id"], c["resource"], c["file_path"])
              for r in reports for c in r["results"].get("failed_checks", [])]
    assert failed == []
    for report in reports:
        assert report["summary"]["parsing_errors"] == 0
        for skipped in report["results"].get("skipped_checks", []):
            assert HONEST_REASON.search(skipped["check_result"].get("suppress_comment", "")), skipped["check_id"]
