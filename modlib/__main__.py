"""Command line: ``python -m modlib {data,train,bench,metrics,sweep,figures} ...``."""

from __future__ import annotations

import argparse
import sys


def cmd_data(args):
    from modlib.data import ensure_mnist, raw_dir

    root = ensure_mnist(args.data_root)
    print(f"MNIST ready in {raw_dir(root)}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m modlib", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("data", help="fetch and verify MNIST")
    p.add_argument("--data-root", help="MNIST folder (default $MODLIB_DATA or ~/.cache/modlib)")
    p.set_defaults(func=cmd_data)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (ValueError, RuntimeError, FileNotFoundError, FileExistsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
