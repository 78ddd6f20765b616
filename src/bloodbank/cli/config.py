"""`lbb config` and `lbb pairs`: params.yaml composed from overlays, and the pair plan it
holds."""

from __future__ import annotations

import argparse
from pathlib import Path

from bloodbank.core.config import load_params
from bloodbank.core.io import atomic_path
from bloodbank.core.overlays import compose, known, recorded_names, render


def cmd_config(args: argparse.Namespace) -> int:
    target = Path(args.params)
    if args.use:
        params = compose(args.use)
        with atomic_path(target) as tmp:
            tmp.write_text(render(params, args.use), encoding="utf-8")
        print(
            f"{target} is now {' + '.join(args.use)}; "
            "run `dvc repro` (or `dvc status` to see what changes)"
        )
        return 0
    params = load_params(target)
    names = recorded_names(target)
    made = f"composed from {' + '.join(names) or 'the defaults'}" if names is not None else "edited"
    print(
        f"{target}: valid ({made}); {len(params.languages)} languages ({len(params.studied)} "
        f"studied), dump source {params.dump.source!r}, "
        f"{params.sample.chars_per_language:,} characters per language"
    )
    return 0


def cmd_pairs(args: argparse.Namespace) -> int:
    from bloodbank.graph.design import coverage, off_diagonal, plan

    params = load_params(args.params)
    targets = plan(params.studied, params.pairs)
    n = len(params.studied)
    off = off_diagonal(targets)
    cfg = params.pairs
    design = cfg.design if isinstance(cfg.design, str) else "explicit list"
    if design == "balanced":
        design += f", fraction {cfg.fraction}, seed {cfg.seed}"
    diagonal = f", and {n} compute-matched diagonal runs" if cfg.matched_diagonal else ""
    if args.verbose:
        for src, tgts in targets.items():
            print(f"pair@{src:8} {' '.join(tgts) or '(none)'}")
    print(
        f"{args.params}: {off} of {n * (n - 1)} pairs ({coverage(n, off):.1%}; design "
        f"{design}; {len(cfg.extra)} extra){diagonal}, in {n} pair stages (one per source)"
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "config",
        help="check params.yaml, or compose it from configurations",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Without --use: validate params.yaml. With --use NAME [NAME ...]: write "
        "params.yaml as the defaults with configs/NAME.yaml laid on, left to right (each "
        "file holds only what it changes).",
        epilog="examples:\n  lbb config --use default          the embedded default\n"
        "  lbb config --use paper            the study\n"
        "  lbb config --use paper streams    the study, dumps sampled from their streams\n"
        f"configurations: {', '.join(known())}",
    )
    p.add_argument(
        "--use", nargs="+", metavar="NAME", help="configurations in configs/, stacked in order"
    )
    p.add_argument("--params", default="params.yaml", help="params file (default: %(default)s)")
    p.set_defaults(func=cmd_config)

    p = sub.add_parser(
        "pairs",
        help="show the pair trainings params.yaml plans",
        description="The plan follows params.yaml's `studied` and `pairs` (design all | "
        "balanced | a list, fraction, seed, extra, matched_diagonal); dvc.yaml's plan "
        "stage writes it, one file per source (metrics/plan/), and the pair stage of each "
        "source trains its targets. Nothing to run by hand: change params.yaml (or `dvc "
        "exp run -S pairs.fraction=0.5`) and a source reruns only if its targets changed.",
    )
    p.add_argument("--params", type=Path, default=Path("params.yaml"), help="default: %(default)s")
    p.add_argument("-v", "--verbose", action="store_true", help="list each source's targets")
    p.set_defaults(func=cmd_pairs)
