"""``python -m dev.crds`` writes the TuningJob CRD generated from the spec models to ``crds/``
and the Helm chart's copy; ``--check`` exits 1 if either differs (it writes nothing).

``kubetune crd`` prints the same text; this script only keeps the committed copies in step.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from kubetune.api.crd import CRD_FILENAME, render_crd

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CRD_PATH = ROOT / "crds" / CRD_FILENAME
# The Helm chart's copy (templates/crds.yaml reads it), written and checked with crds/.
CHART_CRD_PATH = ROOT / "charts" / "kubetune" / "files" / "crds" / CRD_FILENAME


def _with_chart_copy(path: Path) -> list[Path]:
    """The default path goes with the Helm chart's copy, so the two never drift apart."""
    return [path, CHART_CRD_PATH] if path == DEFAULT_CRD_PATH else [path]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dev.crds", description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare, write nothing")
    parser.add_argument(
        "path",
        nargs="?",
        type=Path,
        default=DEFAULT_CRD_PATH,
        help=f"the file (default: {DEFAULT_CRD_PATH.relative_to(ROOT)} and the chart's copy)",
    )
    args = parser.parse_args(argv)
    text = render_crd()
    stale = False
    for path in _with_chart_copy(args.path):
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current == text:
            print(f"{path}: up to date")
        elif args.check:
            print(f"{path}: out of date, run python -m dev.crds")
            stale = True
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"{path}: written")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
