"""`lbb languages`: the language registry, real and synthetic."""

from __future__ import annotations

import argparse

from bloodbank.core.languages import REGISTRY


def cmd_languages(args: argparse.Namespace) -> int:
    rows = [
        lang
        for lang in REGISTRY.values()
        if args.all or (lang.synthetic if args.synthetic else not lang.synthetic)
    ]
    print(f"{'code':6}{'name':14}{'family':15}{'script':11}{'role':16}features")
    for lang in rows:
        role = "synthetic" if lang.synthetic else ("studied" if lang.studied else "tokenizer-only")
        feats = ", ".join(f"{k}={v}" for k, v in lang.features.items())
        print(f"{lang.code:6}{lang.name:14}{lang.family:15}{lang.script:11}{role:16}{feats}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("languages", help="list the language registry")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--synthetic", action="store_true", help="only the synthetic languages")
    group.add_argument("--all", action="store_true", help="real and synthetic languages")
    p.set_defaults(func=cmd_languages)
