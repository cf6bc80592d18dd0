"""The shipped sample catalog: reproducible, unique keys, values every workload can store."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from cdk_data_tier.app.data import Product, make_products, products


def test_the_shipped_file_is_what_the_generator_makes():
    assert make_products.OUT.read_text(encoding="utf-8") == make_products.dump(make_products.make())


def test_the_catalog_is_real_looking_and_keyed_uniquely():
    catalog = products()
    assert len(catalog) == make_products.COUNT == 3000
    assert len({p.sku for p in catalog}) == len(catalog)
    assert len({p.brand for p in catalog}) == len(make_products.BRANDS)
    assert len({p.category for p in catalog}) == len(make_products.CATALOG)
    assert all(Decimal("0") < p.price < Decimal("2000") and p.price == p.price.quantize(Decimal("0.01"))
               for p in catalog)
    assert all(p.stock >= 0 and Decimal("0") <= p.rating <= Decimal("5") for p in catalog)
    assert max(Counter(p.brand for p in catalog).values()) < 200  # partitions stay spread


def test_a_product_round_trips_through_json():
    p = products()[42]
    assert Product.from_json(p.to_json()) == p
