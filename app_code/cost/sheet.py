"""The dated price sheet shipped with the package (prices.json): each price with the page it comes from."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

SHEET = Path(__file__).with_name("prices.json")


@dataclass(frozen=True)
class Price:
    usd: float
    source: str  # where the price was read: a pricing page's URL, or the Price List API
    as_of: str


@cache
def load(path: Path = SHEET) -> dict[str, Any]:
    return json.loads(path.read_text())


class PriceSheet:
    """Prices of one region; `get` is None for a price the sheet does not hold (the line shows 'not priced')."""

    def __init__(self, region: str, data: dict[str, Any] | None = None) -> None:
        self.data = data or load()
        self.region = region
        self.prices: dict[str, Any] = self.data["regions"].get(region, {})
        self.assumptions: dict[str, float] = self.data["assumptions"]
        self.as_of: str = self.data["as_of"]

    def get(self, key: str) -> Price | None:
        entry = self.prices.get(key)
        if entry is None:
            return None
        source = self.data["sources"][entry["source"]]
        return Price(usd=float(entry["usd"]), source=source["url"], as_of=source["read"])
