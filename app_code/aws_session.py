"""boto3 sessions for the two kinds of target: the user's AWS account, and the twin's moto on loopback.

Against AWS the user's configuration is theirs to choose, profile included. The twin is ours: a shell's
`AWS_PROFILE`, config file, SSO cache or `credential_process` must not change what it does, and a user's real
keys must never be sent to a loopback server. So the twin's session is built with every botocore setting cut
off from its environment variable and its config-file key, and with explicit placeholder keys.
"""

from __future__ import annotations

import os
from typing import Any

# moto accepts any signature, but botocore refuses to send unsigned requests: these sign the twin's calls.
TWIN_CREDENTIALS = ("twin", "twin")
# Settings the isolated session pins instead of their botocore defaults.
_PINNED: dict[str, Any] = {
    "config_file": os.devnull,  # not ~/.aws/config
    "credentials_file": os.devnull,  # not ~/.aws/credentials
    "ignore_configured_endpoint_urls": True,  # not AWS_ENDPOINT_URL[_<SERVICE>]: the twin names its endpoint
}


class ProfileError(Exception):
    """The named AWS profile does not exist in the user's configuration."""


def isolated_session(region: str | None, credentials: tuple[str, str] = TWIN_CREDENTIALS):
    """A boto3 session that reads no environment variable, no config or credentials file, and no SSO cache."""
    import boto3
    import botocore.session
    from botocore.configprovider import BOTOCORE_DEFAUT_SESSION_VARIABLES

    # Each entry is (config-file key, env var, default, converter); dropping the first two leaves the defaults.
    session_vars = {name: (None, None, _PINNED.get(name, default), convert)
                    for name, (_, _, default, convert) in BOTOCORE_DEFAUT_SESSION_VARIABLES.items()}
    core = botocore.session.Session(session_vars=session_vars)
    core.set_credentials(*credentials)
    return boto3.session.Session(botocore_session=core, region_name=region)


def user_session(profile: str | None, region: str | None):
    """The user's own session: their profile (or AWS_PROFILE, or the default chain), as the AWS CLI would."""
    import boto3
    from botocore.exceptions import ProfileNotFound

    try:
        return boto3.session.Session(profile_name=profile, region_name=region)
    except ProfileNotFound:
        name = profile or os.environ.get("AWS_PROFILE") or os.environ.get("AWS_DEFAULT_PROFILE")
        source = "--profile" if profile else "AWS_PROFILE"
        where = os.environ.get("AWS_CONFIG_FILE", "~/.aws/config")
        raise ProfileError(f"AWS profile {name!r} ({source}) is not in {where}: "
                           f"expected a [profile {name}] section (aws configure --profile {name})") from None


def no_proxies() -> dict[str, Any]:
    """botocore Config settings for a loopback endpoint: an HTTP(S)_PROXY of the shell must not carry the calls."""
    return {"proxies": {}}
