"""A support vector classifier on scikit-learn's bundled digits (no download).

Prints ``accuracy=0.98`` after 3-fold cross-validation.
"""

from __future__ import annotations

import argparse

from sklearn.datasets import load_digits
from sklearn.model_selection import cross_val_score
from sklearn.svm import SVC


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--c", type=float, required=True)
    parser.add_argument("--kernel", choices=["linear", "rbf", "poly"], required=True)
    parser.add_argument("--gamma", default="scale")
    args = parser.parse_args()

    x, y = load_digits(return_X_y=True)
    gamma: str | float = args.gamma if args.gamma in ("scale", "auto") else float(args.gamma)
    scores = cross_val_score(SVC(C=args.c, kernel=args.kernel, gamma=gamma), x, y, cv=3)
    print(f"accuracy={scores.mean():.5f} accuracy_std={scores.std():.5f}", flush=True)


if __name__ == "__main__":
    main()
