"""`harness kernels fetch VERSION... | list`: the guest kernels the harness can boot.

`add_subcommands(subparsers)` adds `kernels` to harness's own parser; run alone,
`python -m harness.guests.kernels_command kernels ...` does the same.
"""

from __future__ import annotations

import argparse
import sys

from harness.guests.sources import KernelError, fetch, kernels_extra_missing
from harness.guests.sources.cache import cache_dir, cached_kernels


def cmd_fetch(args: argparse.Namespace) -> int:
    """Fetch the newest generic kernel of each version series into the cache."""
    try:
        kernels = fetch(args.versions, log=lambda line: print(f"harness kernels fetch: {line}"))
    except KernelError as exc:
        print(f"harness kernels fetch: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("harness kernels fetch: interrupted; nothing half-made is kept", file=sys.stderr)
        return 130
    for kernel in kernels:
        print(f"{kernel.release}\t{kernel.image}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """Show the cached kernels: release, Debian suite, size, path."""
    if missing := kernels_extra_missing():
        print(f"harness kernels list: {missing}", file=sys.stderr)
        return 2
    kernels = cached_kernels()
    if not kernels:
        print(f"no kernels in {cache_dir()}; fetch some with `harness kernels fetch 5.10 6.1 6.12`")
        return 0
    rows = [(k.release, k.suite or "-", f"{k.size() / 2**20:.0f} MB", str(k.root)) for k in kernels]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    print(f"{'release':<{widths[0]}}  {'debian':<{widths[1]}}  {'size':>{widths[2]}}  path")
    for release, suite, size, path in rows:
        print(f"{release:<{widths[0]}}  {suite:<{widths[1]}}  {size:>{widths[2]}}  {path}")
    return 0


def add_subcommands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `kernels fetch|list` to a parser's subcommands (each sets `func`)."""
    kernels = subparsers.add_parser(
        "kernels",
        help="guest kernels to run the catalogue on (Debian's, cached)",
        description=f"Guest kernels, cached in {cache_dir()} ($HARNESS_CACHE/kernels if set).",
    )
    verbs = kernels.add_subparsers(dest="kernels_command", required=True)
    fetch_parser = verbs.add_parser(
        "fetch",
        help="download Debian's newest generic amd64 kernel of each version",
        description="Download the newest linux-image-*-amd64 of each version series "
        "(5.10: bullseye, 6.1: bookworm, 6.12: trixie, newer: sid) with a private apt "
        "configuration; the system's apt sources and packages are not touched.",
    )
    fetch_parser.add_argument("versions", nargs="+", metavar="VERSION", help="e.g. 5.10 6.1 6.12")
    fetch_parser.set_defaults(func=cmd_fetch)
    list_parser = verbs.add_parser("list", help="show the cached kernels")
    list_parser.set_defaults(func=cmd_list)


def main(argv: list[str] | None = None) -> int:
    """Entry point when run alone."""
    parser = argparse.ArgumentParser(prog="harness")
    add_subcommands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
