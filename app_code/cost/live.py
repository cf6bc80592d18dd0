"""`cost --live`: instance, node and DB-instance prices from the AWS Price List API (pricing:GetProducts).

The Price List API answers in us-east-1 for every region. Prices it does not cover here (NAT, KMS, storage, ...)
still come from the dated sheet, and each row names where its price came from.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

from cdk_data_tier.app.cost.sheet import Price, PriceSheet

PRICING_REGION = "us-east-1"
_RDS_ENGINES = {"postgres": "PostgreSQL", "mysql": "MySQL", "aurora-postgresql": "Aurora PostgreSQL",
                "aurora-mysql": "Aurora MySQL"}
_CACHE_ENGINES = {"valkey": "Valkey", "redis": "Redis"}


def _filters(**terms: str) -> list[dict[str, str]]:
    return [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in terms.items()]


def query(key: str, region: str) -> tuple[str, list[dict[str, str]]] | None:
    """The GetProducts (ServiceCode, Filters) that price `key` in `region`; None for keys it does not cover."""
    kind, _, rest = key.partition(":")
    if kind == "ec2":
        return "AmazonEC2", _filters(instanceType=rest, regionCode=region, operatingSystem="Linux", tenancy="Shared",
                                     preInstalledSw="NA", capacitystatus="Used")
    if kind in ("rds", "aurora") and rest.count(":") == 1:
        engine, klass = rest.split(":")
        if engine in _RDS_ENGINES:
            return "AmazonRDS", _filters(instanceType=klass, regionCode=region, databaseEngine=_RDS_ENGINES[engine],
                                         deploymentOption="Single-AZ")
    if kind == "elasticache" and rest.count(":") == 1:
        engine, node = rest.split(":")
        if engine in _CACHE_ENGINES:
            return "AmazonElastiCache", _filters(instanceType=node, regionCode=region,
                                                 cacheEngine=_CACHE_ENGINES[engine])
    return None


def on_demand_usd(price_list: list[str]) -> float | None:
    """The hourly on-demand USD price in a GetProducts answer (each entry a JSON document)."""
    for item in price_list:
        product: dict[str, Any] = json.loads(item)
        for term in product.get("terms", {}).get("OnDemand", {}).values():
            for dimension in term.get("priceDimensions", {}).values():
                usd = dimension.get("pricePerUnit", {}).get("USD")
                if usd is not None and float(usd) > 0:
                    return float(usd)
    return None


class LivePrices:
    def __init__(self, sheet: PriceSheet, client: Any, today: datetime.date | None = None) -> None:
        self.sheet = sheet
        self.client = client
        self.today = (today or datetime.date.today()).isoformat()
        self.cache: dict[str, Price | None] = {}

    def get(self, key: str) -> Price | None:
        asked = query(key, self.sheet.region)
        if asked is None:
            return self.sheet.get(key)
        if key not in self.cache:
            service, filters = asked
            answer = self.client.get_products(ServiceCode=service, Filters=filters, MaxResults=10)
            usd = on_demand_usd(answer.get("PriceList", []))
            self.cache[key] = None if usd is None else Price(
                usd=usd, source=f"AWS Price List API ({service})", as_of=self.today)
        return self.cache[key]


def pricing_client(profile: str | None) -> Any:
    import boto3

    return boto3.Session(profile_name=profile).client("pricing", region_name=PRICING_REGION)
