#!/usr/bin/env python3
"""The only entry point: `cdk synth -c env=NAME` (default dev) builds that environment's stacks."""

import sys

from cdk_data_tier.node_runtime import prefer_interpreter_node

prefer_interpreter_node()  # before aws_cdk starts jsii's node

import aws_cdk as cdk  # noqa: E402

from cdk_data_tier.constructs.wheelhouse import WheelhouseError  # noqa: E402
from cdk_data_tier.stacks.compliance import add_compliance_checks  # noqa: E402
from cdk_data_tier.stacks.config import ConfigError, load_config  # noqa: E402
from cdk_data_tier.stacks.data_tier import build_data_tier  # noqa: E402


def main() -> None:
    app = cdk.App()
    try:
        config = load_config(app)
    except ConfigError as err:
        # One line, no traceback: the message names the key, the value and what is allowed.
        print(err, file=sys.stderr)
        sys.exit(1)
    for warning in config.warnings:
        print(warning, file=sys.stderr)
    try:
        build_data_tier(app, config)
    except WheelhouseError as err:
        print(f"app host wheelhouse: {err}", file=sys.stderr)
        sys.exit(1)
    add_compliance_checks(app)
    app.synth()


if __name__ == "__main__":
    main()
