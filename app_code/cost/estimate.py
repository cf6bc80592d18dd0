"""Usage lines priced: one row each, and the total of the rows that have a price."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from cdk_data_tier.app.cost.sheet import Price
from cdk_data_tier.app.cost.usage import Usage


class Prices(Protocol):
    def get(self, key: str) -> Price | None: ...


@dataclass(frozen=True)
class Row:
    stack: str
    resource: str
    type: str
    quantity: float
    unit: str
    unit_price: float | None
    monthly: float | None  # None: not priced
    source: str
    as_of: str
    note: str


@dataclass
class Estimate:
    env: str
    region: str
    prices: str  # where the prices came from
    rows: list[Row]
    assumptions: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return round(sum(r.monthly for r in self.rows if r.monthly is not None), 2)

    @property
    def not_priced(self) -> list[Row]:
        return [r for r in self.rows if r.monthly is None]

    def biggest(self, n: int = 3) -> list[Row]:
        return sorted((r for r in self.rows if r.monthly), key=lambda r: -(r.monthly or 0))[:n]

    def as_dict(self) -> dict[str, Any]:
        return {"env": self.env, "region": self.region, "currency": "USD", "prices": self.prices,
                "assumptions": self.assumptions, "rows": [asdict(r) for r in self.rows], "total": self.total,
                "not_priced": len(self.not_priced)}


def estimate(env: str, region: str, lines: list[Usage], prices: Prices, *, source: str,
             assumptions: dict[str, float]) -> Estimate:
    rows = []
    for line in lines:
        price = prices.get(line.price_key) if line.price_key else None
        if price is None:
            why = line.note or f"no price for {line.price_key} in {region}"
            note = why if line.price_key is None else f"not priced: {line.price_key} is not in the price sheet"
            rows.append(Row(line.stack, line.resource, line.type, line.quantity, line.unit, None, None, "", "", note))
            continue
        rows.append(Row(line.stack, line.resource, line.type, line.quantity, line.unit, price.usd,
                        round(line.quantity * price.usd, 2), price.source, price.as_of, line.note))
    return Estimate(env=env, region=region, prices=source, rows=rows, assumptions=assumptions)
