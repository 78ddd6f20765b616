"""``lbb``: what researchers run outside ``dvc repro``.

Subcommands:
  languages   list the language registry (real and synthetic)
  config      check params.yaml, or switch it to a shipped configuration
  dump        validate a Wikipedia dump file and say what it holds
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from bloodbank.config import ConfigError, load_params
from bloodbank.dumps import DumpError, inspect_dump
from bloodbank.languages import REGISTRY

CONFIGS = Path("configs")


def cmd_languages(args: argparse.Namespace) -> int:
    rows = [lang for lang in REGISTRY.values()
            if args.all or (lang.synthetic if args.synthetic else not lang.synthetic)]
    print(f"{'code':6}{'name':14}{'family':15}{'script':8}{'role':16}features")
    for lang in rows:
        role = "synthetic" if lang.synthetic else ("studied" if lang.studied else "tokenizer-only")
        feats = ", ".join(f"{k}={v}" for k, v in lang.features.items())
        print(f"{lang.code:6}{lang.name:14}{lang.family:15}{lang.script:8}{role:16}{feats}")
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    target = Path(args.params)
    if args.use:
        src = CONFIGS / f"{args.use}.yaml"
        if not src.is_file():
            known = ", ".join(sorted(p.stem for p in CONFIGS.glob("*.yaml")))
            print(f"error: no configuration {args.use!r} in {CONFIGS}/ (known: {known})",
                  file=sys.stderr)
            return 2
        load_params(src)
        shutil.copyfile(src, target)
        print(f"{target} is now {src}; run `dvc repro` (or `dvc status` to see what changes)")
        return 0
    params = load_params(target)
    print(f"{target}: valid; {len(params.languages)} languages ({len(params.studied)} studied), "
          f"dump source {params.dump.source!r}, {params.sample.chars_per_language:,} "
          "characters per language")
    return 0


def cmd_dump(args: argparse.Namespace) -> int:
    info = inspect_dump(args.file, args.dbname)
    print(f"{info.path}: {info.dbname}, {info.pages:,} pages, {info.compressed_bytes:,} bytes "
          f"compressed, {info.xml_bytes:,} bytes of XML")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lbb", description="Mapping the Linguistic Blood Bank: tools beside `dvc repro`.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="The pipeline itself runs with `dvc repro`; see README.md.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("languages", help="list the language registry")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--synthetic", action="store_true", help="only the synthetic languages")
    group.add_argument("--all", action="store_true", help="real and synthetic languages")
    p.set_defaults(func=cmd_languages)

    p = sub.add_parser("config", help="check params.yaml or switch configuration",
                       description="Without --use: validate params.yaml. With --use NAME: "
                       "replace params.yaml by configs/NAME.yaml (e.g. paper, default).")
    p.add_argument("--use", metavar="NAME", help="configuration in configs/ to switch to")
    p.add_argument("--params", default="params.yaml", help="params file (default: %(default)s)")
    p.set_defaults(func=cmd_config)

    p = sub.add_parser("dump", help="validate a dump file",
                       description="Stream a .xml.bz2 dump once and report problems: corrupt "
                       "or truncated bz2, not UTF-8, not MediaWiki XML, empty, wrong wiki.")
    p.add_argument("file", type=Path, help="a <wiki>wiki-<date>-pages-articles.xml.bz2 file")
    p.add_argument("--dbname", help="expected wiki, e.g. fiwiki")
    p.set_defaults(func=cmd_dump)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, DumpError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
