"""Where a command's AWS calls and endpoints come from: an outputs file, the twin's state dir, or CloudFormation.

The twin's targets ignore the user's AWS configuration (app_code.aws_session); `--env` targets are the user's
account, reached through their profile (`--profile`, else AWS_PROFILE, else the default chain).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from cdk_data_tier.app.aws_session import ProfileError
from cdk_data_tier.app.endpoints import AwsTarget, Endpoints
from cdk_data_tier.app.errors import BadInput
from cdk_data_tier.app.probe import probe_url


def aws_target(region: str | None, profile: str | None) -> AwsTarget:
    """The user's AWS (or an AWS_ENDPOINT_URL standing in for it), with its profile checked now."""
    aws = AwsTarget(region=region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
                    endpoint_url=os.environ.get("AWS_ENDPOINT_URL"), profile=profile)
    _check_profile(aws)
    probe_url(aws.endpoint_url, "AWS_ENDPOINT_URL")
    return aws


def _check_profile(aws: AwsTarget) -> None:
    try:
        aws.session()
    except ProfileError as exc:
        raise BadInput(str(exc)) from None


def load_endpoints(*, outputs: Path | None, env: str | None, region: str | None = None,
                   profile: str | None = None, ca_bundles: tuple[str | None, ...] = ()) -> Endpoints:
    """Endpoints from `--outputs FILE|DIR` or `--env NAME`; a CA bundle that is named must exist."""
    if outputs is not None:
        endpoints = Endpoints.from_twin(outputs) if outputs.is_dir() else Endpoints.from_outputs_file(outputs)
        if profile and endpoints.aws.static_credentials:
            raise BadInput(f"--profile {profile}: {outputs} is a local twin's, which never uses AWS profiles")
        if profile:  # a `cdk deploy --outputs-file`: its secrets are read from the user's account
            endpoints.aws = dataclasses.replace(endpoints.aws, profile=profile)
            _check_profile(endpoints.aws)
    else:
        assert env is not None
        endpoints = Endpoints.from_cloudformation(env, aws=aws_target(region, profile))
    if region:
        endpoints.aws = dataclasses.replace(endpoints.aws, region=region)
    for bundle in (*ca_bundles, endpoints.aws.ca_bundle):
        if bundle and not Path(bundle).is_file():
            raise BadInput(f"CA bundle {bundle} does not exist")
    return endpoints
