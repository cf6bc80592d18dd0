"""Batch load: the DynamoDB workload's parallel BatchWriteItem against a put_item loop, same table, same items.

Target: >= 10x the loop's items/s. Runs against --outputs, or a throwaway twin (`make bench`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app_code.data import products  # noqa: E402
from app_code.demo import bench_outputs  # noqa: E402
from app_code.dynamo import LOAD_OP, DynamoWorkload, ItemMapper, put_loop  # noqa: E402
from app_code.endpoints import Endpoints  # noqa: E402
from app_code.metrics import Recorder  # noqa: E402

TARGET = 10.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--outputs", type=Path, help="outputs file (default: start a throwaway twin)")
    parser.add_argument("--env", default="dev")
    parser.add_argument("--cdk-out", type=Path)
    parser.add_argument("--loop-items", type=int, default=150)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with bench_outputs(args.outputs, args.env, args.cdk_out) as outputs:
        endpoints = Endpoints.from_outputs_file(outputs)
        recorder = Recorder()
        workload = DynamoWorkload(endpoints.dynamo, endpoints.aws, recorder, threads=args.threads)
        mapper = ItemMapper(workload.describe())
        items = [mapper.item(p) for p in products()]
        loop_rate = batch_rate = 0.0
        for _ in range(args.rounds):  # alternate, best of each: a busy machine slows both alike
            loop_rate = max(loop_rate, args.loop_items / put_loop(workload, items[: args.loop_items]))
            before = recorder.op("dynamo", LOAD_OP).seconds
            workload.batch_load(items)
            batch_rate = max(batch_rate, len(items) / (recorder.op("dynamo", LOAD_OP).seconds - before))
        found, _ = workload.scan_products()
    if len({f["sku"] for f in found}) != len(items):
        print(f"FAIL: the table holds {len(found)} products, expected {len(items)}")
        return 1
    ratio = batch_rate / loop_rate
    print(f"put_item loop           {loop_rate:>10,.0f} items/s ({args.loop_items} items)")
    print(f"BatchWriteItem x{args.threads:<2}      {batch_rate:>10,.0f} items/s ({len(items)} items)")
    print(f"ratio {ratio:.1f}x the loop (target >= {TARGET:.0f}x): {'OK' if ratio >= TARGET else 'BELOW TARGET'}")
    return 0  # a ratio is information, not a test: only a failed read-back check fails the run


if __name__ == "__main__":
    sys.exit(main())
