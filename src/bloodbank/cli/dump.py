"""`lbb dump`: validate a Wikipedia dump file."""

from __future__ import annotations

import argparse
from pathlib import Path

from bloodbank.core.config import DumpConfig


def cmd_dump(args: argparse.Namespace) -> int:
    from bloodbank.data.dumps import inspect_dump

    info = inspect_dump(args.file, args.dbname, max_page_mb=args.max_page_mb)
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
        "or truncated bz2, not UTF-8, not MediaWiki XML, empty, wrong wiki, a page too "
        "large. Memory stays bounded whatever the file decompresses to.",
    )
    p.add_argument("file", type=Path, help="a <wiki>wiki-<date>-pages-articles.xml.bz2 file")
    p.add_argument("--dbname", help="expected wiki, e.g. fiwiki")
    p.add_argument(
        "--max-page-mb",
        type=float,
        default=DumpConfig().max_page_mb,
        help="largest page accepted, MiB of XML (default: dump.max_page_mb's, %(default)s)",
    )
    p.set_defaults(func=cmd_dump)
