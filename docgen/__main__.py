"""`python -m docgen reference|diagram [--cdk-out-dev DIR] [--cdk-out-prod DIR]`: regenerate the docs.

Without --cdk-out-*, each environment's templates are the fresh ones in cdk.out.<env> (or cdk.out), and are
synthesized through the pinned CDK CLI when missing or older than the sources.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ENVS = ("dev", "prod")
ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def assemblies(args: argparse.Namespace) -> dict[str, Path]:
    from cdk_data_tier.app.local.templates import locate

    return {env: locate(env, getattr(args, f"cdk_out_{env}"), echo=lambda m: print(m, file=sys.stderr))
            for env in ENVS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m docgen", description=__doc__)
    parser.add_argument("what", choices=("reference", "diagram"))
    for env in ENVS:
        parser.add_argument(f"--cdk-out-{env}", type=Path, metavar="DIR", help=f"a cloud assembly of {env}")
    args = parser.parse_args(argv)
    if args.what == "reference":
        from docgen.reference import render

        target = DOCS / "reference.md"
        target.write_text(render(assemblies(args)))
        print(f"wrote {target.relative_to(ROOT)}")
        return 0
    from docgen.diagram import DotMissing, require_dot, write_all

    try:
        require_dot()  # before any synth: a missing binary is the one thing to report
        for path in write_all(assemblies(args), DOCS):
            print(f"wrote {path.relative_to(ROOT)}")
    except DotMissing as err:
        print(f"make diagram: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
