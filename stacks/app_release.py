"""Which release of app_code the app host gets: this repository's wheel and its `app` extra, built for the host.

The host's processor follows the configured instance type (Graviton types are aarch64) and its Python is
Amazon Linux 2023's python3.11, so the wheels are chosen for those, not for the machine running synth.
"""

from __future__ import annotations

from pathlib import Path

import cdk_data_tier
from cdk_data_tier.constructs.app_host import HOST_GLIBC, HOST_PYTHON, host_machine
from cdk_data_tier.constructs.wheelhouse import Platform, Wheelhouse, build_wheelhouse
from cdk_data_tier.stacks.config import EnvConfig

EXTRA = "app"
# cdk_data_tier/ sits at the top of the repository (its subfolders link the repository's folders).
PROJECT_DIR = Path(cdk_data_tier.__file__).resolve().parent.parent


def host_platform(config: EnvConfig) -> Platform:
    return Platform(machine=host_machine(config.network.app_instance_type), python=HOST_PYTHON, glibc=HOST_GLIBC)


def app_wheelhouse(config: EnvConfig, *, project_dir: Path = PROJECT_DIR) -> Wheelhouse:
    return build_wheelhouse(project_dir, extra=EXTRA, platform=host_platform(config))
