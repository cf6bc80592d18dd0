"""Which folder the CLI works on: the repository checkout it runs from, else the working directory.

In the repository, app_code/ sits next to app.py and cdk.json: the twin's state (.twin/), the cloud assemblies
(cdk.out*) and the pinned CDK CLI (node_modules/) are the checkout's, wherever the command is typed. An installed
copy has none of those beside it in site-packages, and must never write there: it works on the directory it is
run from (the user's own CDK app, or any folder when `--cdk-out` names the cloud assembly).
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def checkout(package_dir: Path = PACKAGE_DIR) -> Path | None:
    """The repository root when this copy runs from a checkout (editable installs included), else None."""
    root = package_dir.parent
    return root if (root / "cdk.json").is_file() and (root / "app_code").is_dir() else None


CHECKOUT = checkout()
ROOT = CHECKOUT or Path.cwd()


def shown(path: Path) -> str:
    """`path` relative to ROOT when it lies inside (as the repository's docs name files), else in full."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)
