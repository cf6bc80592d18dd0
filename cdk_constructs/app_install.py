"""Puts a wheelhouse on an instance: two S3 assets, and a State Manager association that installs them.

The dependencies' wheels and the project's wheel are separate assets, so a code change uploads one small
wheel and leaves the dependencies' object (tens of MB, keyed by their pins) where it is. Both keys are
parameters of the association, not part of its document: a new release changes the association's
parameters, State Manager runs it again, and nothing else in the template moves (the instance is not
replaced). The install downloads through the instance's role (S3 through the VPC's gateway endpoint, so no
NAT and no PyPI are needed), makes a new venv per release and switches `<root>/venv` to it only once the
release imports and runs, so a failed install leaves the previous one in place. CloudFormation waits for
the association to succeed, so `cdk deploy` reports a failed install.
"""

from __future__ import annotations

from aws_cdk import AssetHashType, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from cdk_data_tier.constructs.wheelhouse import Wheelhouse

INSTALL_ROOT = "/opt/cdk-data-tier"
VENV = f"{INSTALL_ROOT}/venv"
# The unprivileged account the workloads run as (`runuser -u` from Run Command): it cannot change its venv.
RUN_AS = "data-tier"
# Each parameter is pasted into the script, so each admits only the characters its values have.
_PARAMETERS = {
    "Bucket": ("S3 bucket of the assets", r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"),
    "DependenciesKey": ("object key of the zipped dependency wheels", r"^[0-9a-f]{64}\.zip$"),
    "WheelKey": ("object key of the project's wheel", r"^[0-9a-f]{64}\.whl$"),
    "WheelFile": ("the wheel's file name, which pip reads its tags from",
                  r"^[A-Za-z0-9_.]+-[A-Za-z0-9_.!+]+-[A-Za-z0-9_.]+-[A-Za-z0-9_.]+-[A-Za-z0-9_.]+\.whl$"),
    "Requirement": ("what is installed, name==version", r"^[A-Za-z0-9_.-]+==[A-Za-z0-9_.!+-]+$"),
    "Release": ("name of this release's folder", r"^[A-Za-z0-9_.+-]{1,100}$"),
    "Region": ("region of the bucket", r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$"),
    "Python": ("the interpreter the venv is made with", r"^python3\.[0-9]+$"),
}


def install_script(*, imports: list[str], console_script: str) -> list[str]:
    """The shell lines of the document's one step; `{{ Name }}` are its parameters."""
    root, check = INSTALL_ROOT, "; ".join(f"import {module}" for module in imports)
    return [
        "#!/bin/bash",
        "set -euo pipefail",
        f"root={root}",
        'release="$root/releases/{{ Release }}"',
        'previous="$(readlink -f "$root/venv" || true)"',
        f'if [ "$previous" = "$release/venv" ] && "$release/venv/bin/{console_script}" --help >/dev/null 2>&1; then',
        '  echo "{{ Requirement }} (release {{ Release }}) is already installed at $root/venv"; exit 0',
        "fi",
        "# The user data's dnf must be done first: one rpm transaction at a time.",
        "cloud-init status --wait >/dev/null 2>&1 || true",
        "rpm -q {{ Python }} {{ Python }}-pip >/dev/null 2>&1 || dnf install -y -q {{ Python }} {{ Python }}-pip",
        f"id -u {RUN_AS} >/dev/null 2>&1 || useradd --system --user-group --create-home "
        f"--home-dir /var/lib/{RUN_AS} --shell /sbin/nologin {RUN_AS}",
        'work="$(mktemp -d)"',
        "ok=0",
        "# Whatever fails, nothing is left half-done: the download goes, and so does a partial venv.",
        'trap \'rm -rf "$work"; [ "$ok" = 1 ] || rm -rf "$release"\' EXIT',
        'mkdir -p "$work/wheels" "$root/releases"',
        "# A few tries: the role's read grant is as new as the release, and IAM takes seconds to apply it.",
        "fetch() {",
        "  for try in 1 2 3 4 5 6; do",
        '    aws s3 cp --only-show-errors --region "{{ Region }}" "s3://{{ Bucket }}/$1" "$2" && return 0',
        '    [ "$try" = 6 ] || sleep 10',
        "  done",
        '  echo "cannot download s3://{{ Bucket }}/$1 with the instance role" >&2; return 1',
        "}",
        'fetch "{{ DependenciesKey }}" "$work/dependencies.zip"',
        'fetch "{{ WheelKey }}" "$work/wheels/{{ WheelFile }}"',
        '{{ Python }} -m zipfile -e "$work/dependencies.zip" "$work/wheels"',
        'rm -rf "$release"',
        '{{ Python }} -m venv "$release/venv"',
        '"$release/venv/bin/pip" install --quiet --disable-pip-version-check --no-index --find-links "$work/wheels" '
        '-r "$work/wheels/requirements.txt"',
        '"$release/venv/bin/pip" install --quiet --disable-pip-version-check --no-index --no-deps '
        '"$work/wheels/{{ WheelFile }}"',
        f'"$release/venv/bin/python" -c "{check}"',
        f'"$release/venv/bin/{console_script}" --help >/dev/null',
        "# The switch is one rename: a run that starts now gets the old venv or the new one, whole.",
        'ln -sfn "$release/venv" "$root/venv.next"',
        'mv -Tf "$root/venv.next" "$root/venv"',
        "ok=1",
        "# The previous release stays (a run may still be using it); older ones go.",
        'for old in "$root"/releases/*; do',
        '  if [ "$old/venv" != "$release/venv" ] && [ "$old/venv" != "$previous" ]; then rm -rf "$old"; fi',
        "done",
        'echo "installed {{ Requirement }} (release {{ Release }}) at $root/venv"',
    ]


class AppInstall(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        wheelhouse: Wheelhouse,
        instance: ec2.Instance,
        role: iam.IRole,
        imports: list[str],
        console_script: str,
        python: str,
        wait_minutes: int = 30,
    ) -> None:
        """imports: modules that must import in the new venv before it is switched to (they load the
        dependencies' compiled parts); console_script: the entry point that must answer --help."""
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.wheelhouse = wheelhouse
        # Custom hashes: the dependencies' by their pins, the wheel's by the files inside it, so a rebuild that
        # only changes zip timestamps uploads nothing and changes no parameter.
        self.dependencies = s3_assets.Asset(self, "Dependencies", path=str(wheelhouse.dependencies),
                                            asset_hash=wheelhouse.dependencies_hash,
                                            asset_hash_type=AssetHashType.CUSTOM)
        self.wheel = s3_assets.Asset(self, "Wheel", path=str(wheelhouse.project_wheel),
                                     asset_hash=wheelhouse.content_hash, asset_hash_type=AssetHashType.CUSTOM)
        self.document = ssm.CfnDocument(
            self, "Document", document_type="Command", document_format="JSON",
            content={
                "schemaVersion": "2.2",
                "description": f"Install a release of {wheelhouse.name} from S3 into {VENV}, offline",
                "parameters": {name: {"type": "String", "description": description, "allowedPattern": pattern}
                               for name, (description, pattern) in _PARAMETERS.items()},
                "mainSteps": [{
                    "action": "aws:runShellScript", "name": "install",
                    "inputs": {"timeoutSeconds": str(wait_minutes * 60),
                               "runCommand": install_script(imports=imports, console_script=console_script)},
                }],
            })
        # SSM Agent fetches the association's document with the instance's role (the association calls themselves
        # come with the host's patching policy, HostPatching); the release's objects are all it may read of S3.
        document_arn = stack.format_arn(service="ssm", resource="document", resource_name=self.document.ref)
        self.policy = iam.ManagedPolicy(
            self, "ReadPolicy", roles=[role], description=f"Download and install the release of {wheelhouse.name}",
            statements=[
                iam.PolicyStatement(actions=["s3:GetObject"], resources=[
                    asset.bucket.arn_for_objects(asset.s3_object_key) for asset in (self.dependencies, self.wheel)]),
                iam.PolicyStatement(actions=["ssm:GetDocument", "ssm:DescribeDocument"], resources=[document_arn]),
            ])
        self.parameters = {
            "Bucket": self.wheel.s3_bucket_name,
            "DependenciesKey": self.dependencies.s3_object_key,
            "WheelKey": self.wheel.s3_object_key,
            "WheelFile": wheelhouse.project_wheel.name,
            "Requirement": f"{wheelhouse.name}=={wheelhouse.version}",
            "Release": wheelhouse.release,
            "Region": stack.region,
            "Python": python,
        }
        self.association = ssm.CfnAssociation(
            self, "Association", name=self.document.ref,
            targets=[ssm.CfnAssociation.TargetProperty(key="InstanceIds", values=[instance.instance_id])],
            parameters={name: [value] for name, value in self.parameters.items()},
            # CloudFormation waits for the install, so a failed one fails (and rolls back) the deploy.
            wait_for_success_timeout_seconds=wait_minutes * 60,
            compliance_severity="HIGH",
        )
        # The instance's role must be able to read the objects before the association first runs.
        self.association.node.add_dependency(self.policy)
