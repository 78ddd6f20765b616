"""`lbb repro`: `dvc repro` with independent stages side by side on Ray."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bloodbank.cli.types import UsageError, at_least


def cmd_repro(args: argparse.Namespace) -> int:
    from dvc.exceptions import DvcException

    try:
        return _repro(args)
    except DvcException as e:  # dvc.yaml, the lock, a stage DVC cannot load
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as e:
        stopped = getattr(e, "stopped", [])
        what = (
            f"stopped {', '.join(stopped)} (their MLflow runs end as KILLED) and recorded "
            "none of them"
            if stopped
            else "no stage was running"
        )
        print(
            f"interrupted: {what}; `lbb repro` again runs what is still stale (trainings resume)",
            file=sys.stderr,
        )
        return 130


def check_values(root: Path) -> None:
    """Refuse a bad value of params.yaml before DVC plans or deletes anything: a stage's
    outputs are named after them (``sample@../../x`` would be ``x``), and a pair plan
    that cannot be built would fail only at the plan stage."""
    from bloodbank.core.config import load_params
    from bloodbank.graph.design import plan

    if (root / "params.yaml").is_file():
        params = load_params(root / "params.yaml")
        plan(params.studied, params.pairs)


def _repro(args: argparse.Namespace) -> int:
    from bloodbank.core.paths import PIPELINES
    from bloodbank.parallel.driver import ReproOptions, dry_run, repro, root_of

    # Ray would hang on an instance without CPUs, or fail with its own traceback
    at_least(1, {"--workers": args.workers})
    at_least(0, {"--retries": args.retries, "--gpus": args.gpus})
    if args.gpus_per_training is not None and args.gpus_per_training <= 0:
        raise UsageError(f"--gpus-per-training must be above 0, not {args.gpus_per_training:g}")

    root = root_of(Path.cwd())
    check_values(root)
    opts = ReproOptions(
        targets=[*args.targets, *(PIPELINES if args.all_pipelines else ())],
        address=args.address,
        workers=args.workers,
        gpus=args.gpus,
        gpu_share=args.gpus_per_training,
        force=args.force,
        dry_run=args.dry_run,
        retries=args.retries,
        warm=not args.cold,
    )
    if args.dry_run:
        print(dry_run(root, opts))
        return 0
    outcome = repro(root, opts)
    print(
        f"ran {len(outcome.ran)} stages, {len(outcome.skipped)} unchanged, in "
        f"{outcome.seconds:.0f} s"
    )
    for name, line in outcome.failed.items():
        print(f"failed: {name}: {line}", file=sys.stderr)
    if outcome.blocked:
        print(f"not run (after a failure): {', '.join(outcome.blocked)}", file=sys.stderr)
    return 0 if outcome.ok else 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "repro",
        help="`dvc repro` with independent stages in parallel on Ray",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Reproduce the pipeline like `dvc repro`: DVC decides what is stale and "
        "records every finished stage in dvc.lock and its cache; Ray runs the stale stages "
        "side by side, each as soon as its upstream stages are done.",
        epilog="Resources: a training stage (mono, pair, pretrain, finetune) asks for "
        "train.threads CPUs,\nor for --gpus-per-training of a GPU where the cluster has "
        "GPUs; every other stage for 1 CPU.\nA cluster needs a filesystem shared by all "
        "nodes, holding the repository (see README).\n\n"
        "examples:\n  lbb repro --dry-run            the plan, its resources and budget\n"
        "  lbb repro --workers 2          a local Ray instance with 2 CPUs\n"
        "  lbb repro --address auto       join the running Ray cluster",
    )
    p.add_argument(
        "targets",
        nargs="*",
        help="stages or pipeline files (default: dvc.yaml, the transfer graph)",
    )
    p.add_argument(
        "-P",
        "--all-pipelines",
        action="store_true",
        help="every pipeline: dvc.yaml and downstream/dvc.yaml (the downstream study), "
        "as `dvc repro -P`",
    )
    p.add_argument(
        "--address",
        help="a Ray cluster to join (e.g. auto, or ray://host:10001); "
        "default: start a local instance",
    )
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="CPUs of the local instance (default: all of this machine's)",
    )
    p.add_argument(
        "--gpus",
        type=float,
        metavar="N",
        help="GPUs the local instance declares (default: those Ray detects)",
    )
    p.add_argument(
        "--gpus-per-training",
        type=float,
        metavar="F",
        help="share of a GPU per training stage, e.g. 0.25 puts four on one GPU "
        "(default: 1 where the cluster has GPUs, else CPUs only)",
    )
    p.add_argument("-f", "--force", action="store_true", help="run every planned stage")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan, resources and training budget; run nothing",
    )
    p.add_argument(
        "--retries",
        type=int,
        default=2,
        help="reruns of a task whose worker died (default: %(default)s); a "
        "training resumes from its checkpoint",
    )
    p.add_argument(
        "--cold",
        action="store_true",
        help="start every stage as a fresh interpreter in a shell, as `dvc repro` does; "
        "by default a `python stages/...` stage is forked from a worker process that has "
        "torch and transformers imported already (same results, seconds less per stage)",
    )
    p.set_defaults(func=cmd_repro)
