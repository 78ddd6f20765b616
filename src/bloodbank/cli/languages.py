"""`lbb languages`: the language registry, real and synthetic, and every Wikipedia edition."""

from __future__ import annotations

import argparse

from bloodbank.core.languages import REGISTRY, Language, get

UNKNOWN = "?"  # a field no library knows


def _row(lang: Language, role: str, prefix: str) -> str:
    feats = ", ".join(f"{k}={v}" for k, v in lang.features.items())
    family, script = lang.family or UNKNOWN, lang.script or UNKNOWN
    return (
        f"{lang.code:10}{prefix:13}{lang.name[:24]:25}{family[:18]:19}{script:10}{role:15}{feats}"
    )


def _listed(args: argparse.Namespace) -> list[tuple[Language, str, str]]:
    if args.editions:
        from bloodbank.core.editions import editions

        out = []
        for code, e in sorted(editions().items()):
            role = "closed edition" if e.closed else "edition"
            out.append((REGISTRY.get(code) or get(code), role, e.prefix or ""))
        return out
    if args.codes:
        from bloodbank.core.editions import describe

        found = [(code, describe(code) if code not in REGISTRY else None) for code in args.codes]
        return [(get(c), _role(get(c)), (e.prefix or "(none)") if e else c) for c, e in found]
    return [
        (lang, _role(lang), lang.code)
        for lang in REGISTRY.values()
        if args.all or (lang.synthetic if args.synthetic else not lang.synthetic)
    ]


def _role(lang: Language) -> str:
    if lang.synthetic:
        return "synthetic"
    if lang.studied:
        return "studied"
    return "tokenizer-only" if lang.code in REGISTRY else "described"


def cmd_languages(args: argparse.Namespace) -> int:
    rows = _listed(args)
    print(f"{'code':10}{'edition':13}{'name':25}{'family':19}{'script':10}{'role':15}features")
    for lang, role, prefix in rows:
        print(_row(lang, role, prefix))
    unknown = sum(1 for lang, _, _ in rows if lang.family is None or lang.script is None)
    if unknown:
        print(f"{unknown} of {len(rows)} with a family or script no library knows ({UNKNOWN})")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "languages",
        help="list the language registry, or every Wikipedia edition",
        description="Without arguments: the languages the project lists (the study's 41). "
        "Any Wikipedia edition or ISO 639 code can be studied: names and likely scripts "
        "come from langcodes (CLDR), families from URIEL (lang2vec), the list of editions "
        "from pywikibot; what none of them knows is shown as ?.",
        epilog="examples:\n  lbb languages yo gsw en-simple   three languages, as the "
        "pipeline sees them\n  lbb languages --editions         every Wikipedia edition",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("codes", nargs="*", metavar="CODE", help="describe these languages")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--synthetic", action="store_true", help="only the synthetic languages")
    group.add_argument("--all", action="store_true", help="real and synthetic languages")
    group.add_argument("--editions", action="store_true", help="every Wikipedia edition")
    p.set_defaults(func=cmd_languages)
