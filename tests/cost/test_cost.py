"""The cost estimate reads the synthesized templates: every resource is priced, declared unpriced, or free."""

from __future__ import annotations

import datetime
import io
import json
import re

import botocore.session
import pytest
from botocore.stub import Stubber

from cdk_data_tier.app.cli import main
from cdk_data_tier.app.cost.catalog import FREE, NOT_PRICED, PRICED, category
from cdk_data_tier.app.cost.command import build, configured_envs
from cdk_data_tier.app.cost.live import LivePrices, on_demand_usd, query
from cdk_data_tier.app.cost.render import as_json, as_table
from cdk_data_tier.app.cost.sheet import PriceSheet, load


def _types(synthesized) -> set[str]:
    return {res["Type"] for path in synthesized.template_files()
            for res in json.loads(path.read_text())["Resources"].values()}


def test_every_resource_type_is_priced_unpriced_or_free(dev, prod):
    unknown = sorted(t for t in _types(dev) | _types(prod) if category(t) == "unknown")
    assert unknown == [], f"resource types neither priced, nor listed as not priced or free: {unknown}"


def test_the_categories_do_not_overlap():
    assert not PRICED & set(NOT_PRICED) and not PRICED & set(FREE) and not set(NOT_PRICED) & set(FREE)


def test_an_unknown_type_is_a_not_priced_row(dev):
    from cdk_data_tier.app.cost.usage import usage_lines

    templates = {"dev-X": {"Resources": {"ThingABCDEF12": {"Type": "AWS::New::Thing", "Properties": {}}}}}
    (line,) = usage_lines(templates, load()["assumptions"])
    assert line.price_key is None and "unknown resource type" in line.note


def test_every_price_names_its_page_and_date_and_every_configured_region_has_a_sheet():
    sheet = load()
    for region, prices in sheet["regions"].items():
        for key, entry in prices.items():
            source = sheet["sources"][entry["source"]]
            assert re.fullmatch(r"https://aws\.amazon\.com/[a-z0-9/-]+/", source["url"]), (region, key)
            assert re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", source["read"]), (region, key)
            assert entry["usd"] > 0
    regions = {json.load(open("cdk.json"))["context"]["environments"][env]["region"] for env in configured_envs()}
    assert regions <= set(sheet["regions"])


def test_dev_rows_follow_the_template(dev):
    est = build("dev", dev.outdir)
    by_resource = {r.resource: r for r in est.rows}
    nats = [r for r in est.rows if r.type == "AWS::EC2::NatGateway"]
    assert len(nats) == dev.config.network.nat_gateways == 1
    assert nats[0].monthly == round(730 * 0.045, 2)
    writer = next(r for name, r in by_resource.items() if "writer" in name and r.unit == "h")
    assert writer.quantity == 730  # single-AZ in dev
    cache = next(r for r in est.rows if r.type == "AWS::ElastiCache::ReplicationGroup")
    assert cache.quantity == 730 * 2 and cache.unit_price == 0.0128  # 1 shard x (1 + 1 replica), Valkey
    endpoints = [r for r in est.rows if r.type == "AWS::EC2::VPCEndpoint"]
    assert endpoints and all(r.quantity == 730 * dev.config.network.az_count for r in endpoints)
    assert est.total == round(sum(r.monthly for r in est.rows if r.monthly is not None), 2)
    assert all(r.source.startswith("https://aws.amazon.com/") for r in est.rows if r.monthly is not None)
    assert any("assumed" in r.note for r in est.rows if r.type == "AWS::Logs::LogGroup")


def test_prod_counts_multi_az_twice_and_every_cache_node(prod):
    est = build("prod", prod.outdir)
    instances = [r for r in est.rows if r.type == "AWS::RDS::DBInstance" and r.unit == "h"]
    assert len(instances) == 1 + prod.config.database.read_replicas
    assert all(r.quantity == 2 * 730 for r in instances)  # Multi-AZ writer and replicas
    storage = [r for r in est.rows if r.type == "AWS::RDS::DBInstance" and r.unit == "GB-month"]
    assert all(r.quantity == 2 * prod.config.database.storage_gib for r in storage)
    cache = next(r for r in est.rows if r.type == "AWS::ElastiCache::ReplicationGroup")
    assert cache.quantity == 730 * prod.config.cache.shards * (prod.config.cache.replicas + 1)
    # No price is guessed: what the sheet lacks stays out of the total and says so.
    assert cache.monthly is None and "not priced" in cache.note


def test_json_holds_the_same_rows_and_total_as_the_table(dev):
    est = build("dev", dev.outdir)
    data = json.loads(as_json(est))
    assert data["total"] == est.total and len(data["rows"]) == len(est.rows)
    assert data["not_priced"] == len(est.not_priced)
    table = as_table(est)
    assert f"${est.total:,.2f}" in table.splitlines()[-4]


def test_cli_json_and_one_line_errors(dev, capsys):
    assert main(["cost", "-e", "dev", "--json", "--cdk-out", str(dev.outdir)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["env"] == "dev" and out["total"] > 0
    assert main(["cost", "-e", "staging"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "app_code cost: env 'staging' is not configured in cdk.json: allowed: dev, prod"
    assert main(["cost", "-e", "dev", "--cdk-out", "/nonexistent/cdk.out"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cdk synth -c env=dev" in err


# -- --live: moto has no Price List backend, so botocore's Stubber checks the call shape --------------------
def _product(usd: str) -> str:
    return json.dumps({"product": {"attributes": {}}, "terms": {"OnDemand": {"T1": {"priceDimensions": {
        "D1": {"unit": "Hrs", "pricePerUnit": {"USD": usd}}}}}}})


def test_live_prices_ask_get_products_with_the_instance_filters():
    client = botocore.session.get_session().create_client("pricing", region_name="us-east-1",
                                                          aws_access_key_id="x", aws_secret_access_key="y")
    expected = {"ServiceCode": "AmazonRDS", "MaxResults": 10, "Filters": [
        {"Type": "TERM_MATCH", "Field": "instanceType", "Value": "db.r7g.large"},
        {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "us-west-2"},
        {"Type": "TERM_MATCH", "Field": "databaseEngine", "Value": "PostgreSQL"},
        {"Type": "TERM_MATCH", "Field": "deploymentOption", "Value": "Single-AZ"}]}
    with Stubber(client) as stub:
        stub.add_response("get_products", {"PriceList": [_product("0.2500000000")], "FormatVersion": "aws_v1"},
                          expected)
        live = LivePrices(PriceSheet("us-west-2"), client, today=datetime.date(2026, 1, 2))
        price = live.get("rds:postgres:db.r7g.large")
        assert price is not None and price.usd == 0.25 and price.source == "AWS Price List API (AmazonRDS)"
        assert price.as_of == "2026-01-02"
        assert live.get("rds:postgres:db.r7g.large") is price  # asked once
        stub.assert_no_pending_responses()
    assert live.get("nat_gateway_hour") == PriceSheet("us-west-2").get("nat_gateway_hour")  # not an API key


@pytest.mark.parametrize("key,service", [("ec2:t3.micro", "AmazonEC2"), ("elasticache:valkey:cache.r7g.large",
                                                                         "AmazonElastiCache"),
                                         ("aurora:aurora-postgresql:db.r7g.large", "AmazonRDS")])
def test_live_queries_cover_every_instance_kind(key, service):
    asked = query(key, "us-east-1")
    assert asked is not None and asked[0] == service


def test_on_demand_usd_skips_zero_dimensions():
    assert on_demand_usd([_product("0.0000000000"), _product("0.0104000000")]) == 0.0104
    assert on_demand_usd([]) is None


def test_table_renders_to_a_stream(dev):
    from cdk_data_tier.app.cost.command import cost

    out = io.StringIO()
    assert cost("dev", cdk_out=dev.outdir, out=out) == 0
    assert out.getvalue().splitlines()[0].startswith("dev (us-east-1): estimated monthly cost in USD")
