"""``python -m dev.docs`` writes the generated docs; ``--check`` exits 1 if one is stale."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dev.docs.generated import GENERATED, ROOT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dev.docs", description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare, write nothing")
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root")
    args = parser.parse_args(argv)
    stale = []
    for doc in GENERATED:
        path = args.root / doc.path
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        wanted = doc.render(args.root, current)
        if wanted == current:
            continue
        stale.append(doc.path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(wanted, encoding="utf-8")
    verb = "out of date" if args.check else "written"
    for path in stale:
        print(f"{path}: {verb}")
    if args.check and stale:
        print("regenerate with: python -m dev.docs")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
