"""Regenerate products.jsonl, the sample catalog every workload loads: `python -m app_code.data.make_products`.

Seeded, so the shipped file is reproducible byte for byte (a test checks it). The brands are invented.
"""

from __future__ import annotations

import json
import random
from datetime import date, timedelta
from pathlib import Path

SEED = 20240607
COUNT = 3000
OUT = Path(__file__).with_name("products.jsonl")

BRANDS = [
    "Northwind", "Alderbrook", "Kestrel", "Bluefern", "Copperline", "Driftwood", "Everpeak", "Foxglove",
    "Granite & Oak", "Halcyon", "Ironbark", "Juniper Labs", "Kinetic", "Lumen", "Meridian", "Nimbus",
    "Orchard", "Pinecrest", "Quillon", "Riverstone", "Solace", "Tidewater", "Umbra", "Verdant",
]
# category -> subcategory -> (nouns, price range in dollars)
CATALOG = {
    "Electronics": {
        "Headphones": (["Over-Ear Headphones", "Wireless Earbuds", "Studio Monitors Headset"], (19, 399)),
        "Speakers": (["Bluetooth Speaker", "Smart Speaker", "Bookshelf Speakers", "Soundbar"], (29, 899)),
        "Chargers": (["USB-C Charger", "Wireless Charging Pad", "Power Bank", "Car Charger"], (9, 129)),
        "Cameras": (["Action Camera", "Mirrorless Camera Body", "Webcam", "Dash Cam"], (39, 1899)),
    },
    "Kitchen": {
        "Cookware": (["Cast Iron Skillet", "Nonstick Frying Pan", "Dutch Oven", "Saucepan Set"], (19, 349)),
        "Appliances": (["Espresso Machine", "Stand Mixer", "Air Fryer", "Electric Kettle", "Blender"], (29, 799)),
        "Cutlery": (["Chef's Knife", "Knife Block Set", "Paring Knife", "Bread Knife"], (12, 289)),
    },
    "Outdoor": {
        "Camping": (["Two-Person Tent", "Sleeping Bag", "Camp Stove", "Headlamp", "Trekking Poles"], (15, 499)),
        "Cycling": (["Bike Helmet", "Bike Light Set", "Floor Pump", "Saddle Bag"], (12, 249)),
        "Garden": (["Pruning Shears", "Garden Hose", "Raised Bed Kit", "Leaf Blower"], (9, 329)),
    },
    "Home": {
        "Furniture": (["Standing Desk", "Ergonomic Chair", "Bookcase", "Side Table"], (49, 1299)),
        "Lighting": (["Desk Lamp", "Floor Lamp", "LED Strip Kit", "Pendant Light"], (14, 349)),
        "Bedding": (["Duvet Cover", "Memory Foam Pillow", "Weighted Blanket", "Linen Sheet Set"], (19, 299)),
    },
    "Sports": {
        "Fitness": (["Adjustable Dumbbells", "Yoga Mat", "Resistance Bands", "Kettlebell", "Jump Rope"], (9, 549)),
        "Running": (["Running Vest", "GPS Watch", "Hydration Belt", "Trail Shoes"], (19, 499)),
    },
    "Office": {
        "Stationery": (["Fountain Pen", "Dotted Notebook", "Desk Organizer", "Mechanical Pencil"], (4, 159)),
        "Peripherals": (["Mechanical Keyboard", "Wireless Mouse", "Monitor Arm", "USB-C Dock"], (14, 399)),
    },
}
ADJECTIVES = ["Classic", "Pro", "Compact", "Ultra", "Essential", "Travel", "Premium", "Everyday", "Studio", "Lite"]
COLORS = ["black", "white", "graphite", "navy", "sage", "sand", "red", "silver", "walnut", "slate"]
TAGS = ["bestseller", "new", "eco", "gift", "bundle", "refurbished", "limited", "clearance", "staff-pick"]
FIRST_DAY, DAYS = date(2019, 1, 1), 2373


def make(count: int = COUNT, seed: int = SEED) -> list[dict]:
    rng = random.Random(seed)
    products = []
    for n in range(1, count + 1):
        brand = rng.choice(BRANDS)
        category = rng.choice(sorted(CATALOG))
        subcategory = rng.choice(sorted(CATALOG[category]))
        nouns, (low, high) = CATALOG[category][subcategory]
        noun = rng.choice(nouns)
        # Prices cluster low with a long tail, and end in .99/.49/.00 like shelf prices do.
        dollars = int(low + (high - low) * rng.random() ** 2.2)
        price = f"{dollars}.{rng.choice(['99', '99', '49', '00', '95'])}"
        reviews = int(rng.paretovariate(1.3) * 3) - 3
        rating = "0.0" if reviews == 0 else f"{min(5.0, max(1.0, rng.gauss(4.2, 0.5))):.1f}"
        color = rng.choice(COLORS)
        model = f"{rng.choice('ABCDEFGHKMRSTX')}{rng.randint(1, 9)}{rng.choice(['', '0', '00', ' Mk II', ' Plus'])}"
        name = f"{brand} {rng.choice(ADJECTIVES)} {noun} {model}".replace("  ", " ")
        products.append({
            "sku": f"{brand[:3].upper()}-{subcategory[:3].upper()}-{n:05d}",
            "name": name,
            "brand": brand,
            "category": category,
            "subcategory": subcategory,
            "price": price,
            "currency": "USD",
            "stock": rng.choice([0] + [rng.randint(1, 40)] * 3 + [rng.randint(40, 500)] * 2),
            "rating": rating,
            "review_count": max(0, reviews),
            "color": color,
            "weight_grams": int(rng.lognormvariate(6.3, 1.0)) + 20,
            "tags": sorted(rng.sample(TAGS, rng.randint(0, 3))),
            "created_at": (FIRST_DAY + timedelta(days=rng.randrange(DAYS))).isoformat(),
            "description": f"The {name} in {color}: {noun.lower()} for {category.lower()} "
                           f"({subcategory.lower()}), backed by {brand}'s {rng.choice([1, 2, 3, 5])}-year warranty.",
        })
    return products


def dump(products: list[dict]) -> str:
    return "".join(json.dumps(p, ensure_ascii=False, sort_keys=True) + "\n" for p in products)


if __name__ == "__main__":
    OUT.write_text(dump(make()), encoding="utf-8")
    print(f"wrote {COUNT} products to {OUT}")
