"""Regenerate the embedded demo data: ``python -m carl_pipeline.synthetic data/01_raw``."""

import argparse
import logging

from carl_pipeline.synthetic.generate import generate_all


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("root", nargs="?", default="data/01_raw", help="folder to write into")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    generate_all(args.root, seed=args.seed)


if __name__ == "__main__":
    main()
