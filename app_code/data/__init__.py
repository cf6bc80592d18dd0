"""The sample catalog shipped with the package (products.jsonl, made by make_products.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    brand: str
    category: str
    subcategory: str
    price: Decimal
    currency: str
    stock: int
    rating: Decimal
    review_count: int
    color: str
    weight_grams: int
    tags: tuple[str, ...]
    created_at: date
    description: str

    @classmethod
    def from_json(cls, raw: dict) -> Product:
        return cls(**{**raw, "price": Decimal(raw["price"]), "rating": Decimal(raw["rating"]),
                      "tags": tuple(raw["tags"]), "created_at": date.fromisoformat(raw["created_at"])})

    def to_json(self) -> dict:
        return {**self.__dict__, "price": str(self.price), "rating": str(self.rating), "tags": list(self.tags),
                "created_at": self.created_at.isoformat()}


@cache
def products() -> tuple[Product, ...]:
    text = resources.files(__package__).joinpath("products.jsonl").read_text(encoding="utf-8")
    return tuple(Product.from_json(json.loads(line)) for line in text.splitlines() if line)
