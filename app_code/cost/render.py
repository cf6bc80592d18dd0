"""The estimate as a table for people, or as one JSON object."""

from __future__ import annotations

import json

from cdk_data_tier.app.cost.estimate import Estimate


def as_json(est: Estimate) -> str:
    return json.dumps(est.as_dict(), indent=2)


def as_table(est: Estimate) -> str:
    head = ("stack", "resource", "quantity", "unit price", "monthly", "note")
    rows = []
    for r in est.rows:
        quantity = f"{r.quantity:,.10g} {r.unit}".strip() if r.unit else "—"
        price = f"${r.unit_price:g}/{r.unit}" if r.unit_price is not None else "—"
        monthly = f"${r.monthly:,.2f}" if r.monthly is not None else "not priced"
        rows.append((r.stack.removeprefix(f"{est.env}-"), r.resource, quantity, price, monthly, r.note))
    widths = [max(len(str(x[i])) for x in (head, *rows)) for i in range(len(head) - 1)]
    fmt = "  ".join(f"{{:<{w}}}" if i not in (2, 3, 4) else f"{{:>{w}}}" for i, w in enumerate(widths))
    lines = [f"{est.env} ({est.region}): estimated monthly cost in USD, {est.prices}", "",
             fmt.format(*head[:-1]) + "  note", "-" * (sum(widths) + 2 * len(widths) + 4)]
    lines += [fmt.format(*row[:-1]) + (f"  {row[-1]}" if row[-1] else "") for row in rows]
    total = f"${est.total:,.2f}"
    lines += ["-" * (sum(widths) + 2 * len(widths) + 4),
              fmt.format("TOTAL", f"({len(est.not_priced)} lines not priced)", "", "", total)]
    assumed = ", ".join(f"{k.replace('_', ' ')} {v:g}" for k, v in est.assumptions.items())
    lines += ["", f"assumptions: {assumed}",
              "sources: " + ", ".join(sorted({f"{r.source} ({r.as_of})" for r in est.rows if r.source}))]
    return "\n".join(lines)
