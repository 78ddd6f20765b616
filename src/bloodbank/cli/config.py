"""`lbb config` and `lbb pairs`: params.yaml composed from overlays, and the pair plan."""

from __future__ import annotations

import argparse
from pathlib import Path

from bloodbank.core import paths
from bloodbank.core.config import load_params
from bloodbank.core.io import atomic_path
from bloodbank.core.overlays import compose, known, recorded_names, render
from bloodbank.graph.design import check_plan, coverage, write_plan


def cmd_config(args: argparse.Namespace) -> int:
    target = Path(args.params)
    if args.use:
        params = compose(args.use)
        with atomic_path(target) as tmp:
            tmp.write_text(render(params, args.use), encoding="utf-8")
        plan = target.parent / paths.PAIRS_PLAN
        stages = write_plan(plan, params.studied, params.pairs)
        print(
            f"{target} is now {' + '.join(args.use)} ({len(stages)} pair stages in {plan}); "
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
    params = load_params(args.params)
    out = args.params.parent / paths.PAIRS_PLAN
    if args.check:
        stages = check_plan(out, params.studied, params.pairs)
        print(f"{out}: follows {args.params} ({len(stages)} pair stages)")
        return 0
    stages = write_plan(out, params.studied, params.pairs)
    n = len(params.studied)
    off = sum(1 for item in stages.values() if item["src"] != item["tgt"])
    cfg = params.pairs
    design = cfg.design if isinstance(cfg.design, str) else "explicit list"
    if design == "balanced":
        design += f", fraction {cfg.fraction}, seed {cfg.seed}"
    diagonal = f", and {n} compute-matched diagonal runs" if cfg.matched_diagonal else ""
    print(
        f"{out}: {off} of {n * (n - 1)} pairs ({coverage(n, off):.1%}; design {design}; "
        f"{len(cfg.extra)} extra){diagonal}"
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "config",
        help="check params.yaml, or compose it from configurations",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Without --use: validate params.yaml. With --use NAME [NAME ...]: write "
        "params.yaml as the defaults with configs/NAME.yaml laid on, left to right (each "
        "file holds only what it changes), and pairs.yaml with it.",
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
        help="write pairs.yaml: the pair trainings params.yaml plans",
        description="dvc.yaml's pair stages run over pairs.yaml, which follows "
        "params.yaml's `studied` and `pairs` (design all | balanced | a list, fraction, "
        "seed, extra, matched_diagonal). Run this after changing them; the scores stage "
        "refuses a pairs.yaml that does not follow params.yaml. Pairs already trained "
        "keep their stage names and are not rerun.",
    )
    p.add_argument("--params", type=Path, default=Path("params.yaml"), help="default: %(default)s")
    p.add_argument("--check", action="store_true", help="only check that pairs.yaml follows")
    p.set_defaults(func=cmd_pairs)
