"""`lbb dump`: validate a Wikipedia dump file."""

from __future__ import annotations

import argparse
from pathlib import Path

from bloodbank.data.dumps import inspect_dump


def cmd_dump(args: argparse.Namespace) -> int:
    info = inspect_dump(args.file, args.dbname)
    print(
        f"{info.path}: {info.dbname}, {info.pages:,} pages, {info.compressed_bytes:,} bytes "
        f"compressed, {info.xml_bytes:,} bytes of XML"
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "dump",
        help="validate a dump file",
        description="Stream a .xml.bz2 dump once and report problems: corrupt "
        "or truncated bz2, not UTF-8, not MediaWiki XML, empty, wrong wiki.",
    )
    p.add_argument("file", type=Path, help="a <wiki>wiki-<date>-pages-articles.xml.bz2 file")
    p.add_argument("--dbname", help="expected wiki, e.g. fiwiki")
    p.set_defaults(func=cmd_dump)
