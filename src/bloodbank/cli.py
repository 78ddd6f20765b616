"""``lbb``: what researchers run outside ``dvc repro``.

Subcommands:
  languages   list the language registry (real and synthetic)
  config      check params.yaml, or switch it to a shipped configuration
  dump        validate a Wikipedia dump file and say what it holds
  graph       analyse any transfer matrix: blood types, bins, tests, figures, report
  explore     the interactive explorer of the transfer graph (Streamlit, on 127.0.0.1)
  tables      Tables 3 and 4 recomputed from the finetune runs in MLflow
  repro       `dvc repro` with independent stages in parallel on Ray
  pairs       write pairs.yaml, the pair trainings params.yaml plans
  backtest    how well a fraction of the pairs recovers a full matrix
  next-pairs  the pairs whose training would narrow D and R most (and add them)
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from bloodbank.core.config import load_params
from bloodbank.core.errors import BloodbankError
from bloodbank.core.io import atomic_path
from bloodbank.core.languages import REGISTRY
from bloodbank.core.offline import offline_environment
from bloodbank.data.dumps import inspect_dump
from bloodbank.graph.design import check_plan, coverage, write_plan
from bloodbank.graph.estimate import FOCUS
from bloodbank.graph.matrix_io import KINDS

CONFIGS = Path("configs")
PLAN = "pairs.yaml"  # beside params.yaml; dvc.yaml reads it as `vars`


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


def cmd_config(args: argparse.Namespace) -> int:
    target = Path(args.params)
    if args.use:
        src = CONFIGS / f"{args.use}.yaml"
        if not src.is_file():
            known = ", ".join(sorted(p.stem for p in CONFIGS.glob("*.yaml")))
            print(
                f"error: no configuration {args.use!r} in {CONFIGS}/ (known: {known})",
                file=sys.stderr,
            )
            return 2
        params = load_params(src)
        shutil.copyfile(src, target)
        stages = write_plan(target.parent / PLAN, params.studied, params.pairs)
        print(
            f"{target} is now {src} ({len(stages)} pair stages in {PLAN}); run `dvc repro` "
            "(or `dvc status` to see what changes)"
        )
        return 0
    params = load_params(target)
    print(
        f"{target}: valid; {len(params.languages)} languages ({len(params.studied)} studied), "
        f"dump source {params.dump.source!r}, {params.sample.chars_per_language:,} "
        "characters per language"
    )
    return 0


def cmd_pairs(args: argparse.Namespace) -> int:
    params = load_params(args.params)
    out = args.params.parent / PLAN
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


def cmd_backtest(args: argparse.Namespace) -> int:
    from bloodbank.graph.backtest import backtest, figure, summarise
    from bloodbank.graph.covariates import pair_covariates
    from bloodbank.graph.estimate import Settings
    from bloodbank.graph.figures import save
    from bloodbank.graph.matrix_io import read_matrix, read_mono_mrr

    matrix = read_matrix(args.matrix, args.kind, args.transpose)
    full = matrix.frame()
    if np.isnan(full.to_numpy()[matrix.off_diagonal()]).any():
        print(f"error: {args.matrix}: a backtest needs every off-diagonal cell", file=sys.stderr)
        return 1
    mono = read_mono_mrr(args.mono) if args.mono else matrix.diagonal_mrr
    if mono is not None and not set(matrix.langs) <= set(mono):
        missing = ", ".join(sorted(set(matrix.langs) - set(mono)))
        print(f"error: no monolingual MRR for {missing}", file=sys.stderr)
        return 1
    covariates = None
    if args.covariates or mono is not None:
        known = pd.Series(mono) if mono is not None else None
        covariates = pair_covariates(matrix.langs, known, typology=args.covariates)
    settings = Settings(draws=args.bootstrap)
    runs = [("ours", settings, None), ("additive", settings.additive, None)]
    if args.adaptive is not None:
        runs.append((f"ours, adaptive from {args.adaptive:g}", settings, args.adaptive))
    methods = {}
    results = {}
    for name, chosen, start in runs:
        results[name] = backtest(
            full, args.fraction, args.draws, chosen, covariates, True, adaptive_from=start
        )
        methods[name] = summarise(results[name])
    table = pd.concat(methods, names=["method"])
    n = len(matrix.langs)
    print(f"{args.matrix}: {n} languages, {args.draws} draws per fraction (balanced designs)")
    print(table.round(3).to_string())
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        pd.concat(results, names=["method"]).to_csv(args.out / "backtest.csv")
        table.to_csv(args.out / "summary.csv")
        save(figure(methods), args.out, "backtest")
        print(f"written: {args.out}/backtest.csv, summary.csv, backtest.png/.svg")
    return 0


def cmd_next_pairs(args: argparse.Namespace) -> int:
    from bloodbank.graph.completion import complete
    from bloodbank.graph.estimate import next_pairs
    from bloodbank.graph.matrix_io import BASELINES, read_mono_mrr

    params = load_params(args.params)
    root = args.params.parent
    suffix = BASELINES[params.graph.baseline]
    source = root / f"metrics/finetune_scores{suffix}.csv"
    if not source.is_file():
        print(f"error: {source}: not found; run `dvc repro` first", file=sys.stderr)
        return 1
    frame = pd.read_csv(source, index_col="source")
    scores = root / "metrics/scores.json"
    mono = read_mono_mrr(scores) if scores.is_file() else None
    est = complete({params.graph.baseline: frame}, params.estimate, params.seed, mono).estimates
    chosen = next_pairs(est[params.graph.baseline], args.count, args.focus)
    if not chosen:
        print("every pair is measured already: nothing to propose")
        return 0
    print(f"{'source':8}{'target':8}variance of D and R removed (F², greedy order)")
    for s, t, gain in chosen:
        print(f"{s:8}{t:8}{gain:,.1f}")
    if args.append:
        added = append_extra(args.params, [(s, t) for s, t, _ in chosen])
        stages = write_plan(root / PLAN, params.studied, load_params(args.params).pairs)
        print(
            f"added {added} pairs to pairs.extra in {args.params}; {root / PLAN} now plans "
            f"{len(stages)} pair stages; run `dvc repro` (nothing trained before reruns)"
        )
    return 0


def append_extra(params_path: Path, pairs: list[tuple[str, str]]) -> int:
    """Add ``pairs`` to ``pairs.extra`` in params.yaml, keeping its comments and layout."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedSeq

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.representer.add_representer(  # keep `null` as written, not an empty value
        type(None), lambda r, _: r.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    doc = yaml.load(params_path.read_text(encoding="utf-8"))
    section = doc.setdefault("pairs", {})
    extra = section.get("extra") or CommentedSeq()
    known = {tuple(p) for p in extra}
    new = [p for p in pairs if tuple(p) not in known]
    for pair in new:
        item = CommentedSeq(pair)
        item.fa.set_flow_style()  # [src, tgt] on one line
        extra.append(item)
    section["extra"] = extra
    with atomic_path(params_path) as tmp, tmp.open("w", encoding="utf-8") as fh:
        yaml.dump(doc, fh)
    return len(new)


def _fractions(text: str) -> list[float]:
    try:
        values = [float(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not numbers: {text!r}") from None
    if not values or any(not 0 < v <= 1 for v in values):
        raise argparse.ArgumentTypeError(f"fractions must lie in (0, 1]: {text!r}")
    return sorted(set(values))


def cmd_dump(args: argparse.Namespace) -> int:
    info = inspect_dump(args.file, args.dbname)
    print(
        f"{info.path}: {info.dbname}, {info.pages:,} pages, {info.compressed_bytes:,} bytes "
        f"compressed, {info.xml_bytes:,} bytes of XML"
    )
    return 0


def cmd_graph(args: argparse.Namespace) -> int:
    from bloodbank.graph.matrix_io import read_matrix, read_mono_mrr
    from bloodbank.graph.report import publish  # matplotlib: only when asked for

    matrix = read_matrix(args.matrix, args.kind, args.transpose)
    print(
        f"{args.matrix}: {len(matrix.langs)} languages; read as {matrix.kind} "
        f"({matrix.kind_reason})"
    )
    mono = read_mono_mrr(args.mono) if args.mono else matrix.diagonal_mrr
    report = args.out / "report.md"
    fresh = not args.out.exists()
    try:
        analysis = publish(
            matrix,
            mono,
            args.out,
            report,
            args.out / "analysis.json",
            args.seed,
            tuple(args.bins),
            args.resamples,
        )
    except BaseException:
        if fresh:  # never leave a half-written output folder behind
            shutil.rmtree(args.out, ignore_errors=True)
        raise
    print(f"donors:     {analysis['donor_ranking']}\nrecipients: {analysis['recipient_ranking']}")
    for kind in ("O", "AB+"):
        print(f"type {kind + ':':4} {analysis['types'][kind].replace(',', ', ') or 'none'}")
    print(f"report: {report}")
    return 0


def cmd_tables(args: argparse.Namespace) -> int:
    from bloodbank.core import paths
    from bloodbank.downstream.results import results_from_mlflow
    from bloodbank.downstream.sets import load_selection
    from bloodbank.downstream.zero_shot import report, tables
    from bloodbank.tracking.runs import tracking_uri

    params = load_params(args.params)
    sets = load_selection(paths.SETS).sets
    uri = tracking_uri()
    store = Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None
    if store is not None and not store.is_file():  # MLflow would create an empty one
        print(f"error: no MLflow store at {store}; run `dvc repro` first", file=sys.stderr)
        return 1
    results = results_from_mlflow(uri, params.tracking.experiment, params.seed)
    if not results:
        print(
            f"error: no finetune runs for seed {params.seed} in {tracking_uri()}", file=sys.stderr
        )
        return 1
    text = report(tables(results, sets["most_recipient"], sets["least_recipient"]), sets)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        print(text)
    return 0


def explorer_command(args: argparse.Namespace) -> list[str]:
    """The ``streamlit run`` command line for the explorer app."""
    app = Path(__file__).parent / "explorer" / "app.py"
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.address",
        args.host,
        "--server.port",
        str(args.port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--",
        "--baseline",
        args.baseline,
        "--kind",
        args.kind,
    ]
    if args.matrix:
        cmd += ["--matrix", str(args.matrix.resolve())] + (
            ["--transpose"] if args.transpose else []
        )
        if args.mono:
            cmd += ["--mono", str(args.mono.resolve())]
    else:
        cmd += ["--outputs", str(args.outputs.resolve())]
    return cmd


def cmd_explore(args: argparse.Namespace) -> int:
    """Check the inputs, then become the Streamlit server (``exec``): one process, so that
    stopping it by its PID, or with Ctrl-C, stops the server too."""
    from bloodbank.explorer import data

    if args.matrix:
        data.load_csv(args.matrix, args.mono, args.kind, args.transpose)
    else:
        data.load_outputs(args.outputs, args.baseline)
    print(f"explorer on http://{args.host}:{args.port} (Ctrl-C stops it)", flush=True)
    cmd = explorer_command(args)
    os.execv(cmd[0], cmd)
    return 0  # not reached


def cmd_repro(args: argparse.Namespace) -> int:
    from dvc.exceptions import DvcException

    try:
        return _repro(args)
    except DvcException as e:  # dvc.yaml, the lock, a stage DVC cannot load
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            "interrupted: the running stages were stopped and none of them recorded; "
            "`lbb repro` again runs what is still stale (trainings resume)",
            file=sys.stderr,
        )
        return 130


def _repro(args: argparse.Namespace) -> int:
    from bloodbank.parallel.driver import ReproOptions, dry_run, repro, root_of

    root = root_of(Path.cwd())
    opts = ReproOptions(
        targets=args.targets,
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


def _bins(text: str) -> list[float]:
    try:
        borders = [float(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not numbers: {text!r}") from None
    if len(borders) != 3 or sorted(set(borders)) != borders:
        raise argparse.ArgumentTypeError(f"need 3 increasing borders, got {text!r}")
    return borders


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lbb",
        description="Mapping the Linguistic Blood Bank: tools beside `dvc repro`.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="The pipeline itself runs with `dvc repro`; see README.md.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("languages", help="list the language registry")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--synthetic", action="store_true", help="only the synthetic languages")
    group.add_argument("--all", action="store_true", help="real and synthetic languages")
    p.set_defaults(func=cmd_languages)

    p = sub.add_parser(
        "config",
        help="check params.yaml or switch configuration",
        description="Without --use: validate params.yaml. With --use NAME: "
        "replace params.yaml by configs/NAME.yaml (e.g. paper, default).",
    )
    p.add_argument("--use", metavar="NAME", help="configuration in configs/ to switch to")
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

    p = sub.add_parser(
        "backtest",
        help="how well a fraction of the pairs recovers a full matrix",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Hide all pairs but a balanced design's, complete the matrix (additive "
        "+ low-rank + covariates, bootstrap intervals), and compare with the full matrix: "
        "Spearman of D and of R, blood types right, RMSE of the hidden cells, and the "
        "share of hidden cells inside their 90% interval. Mean and worst case over the "
        "draws, for our estimate and for the additive baseline.",
        epilog="example: lbb backtest --matrix metrics/finetune_scores.csv "
        "--fraction 0.3,0.5 --draws 10 --out /tmp/bt",
    )
    p.add_argument("--matrix", type=Path, required=True, metavar="CSV", help="a full matrix")
    p.add_argument("--kind", choices=KINDS, default="auto", help="as for `lbb graph`")
    p.add_argument("--transpose", action="store_true", help="the CSV's rows are targets")
    p.add_argument(
        "--fraction",
        type=_fractions,
        default=[0.3],
        metavar="F[,F...]",
        help="share(s) of the pairs kept (default: 0.3)",
    )
    p.add_argument("--draws", type=int, default=10, help="designs per fraction (default: 10)")
    p.add_argument(
        "--bootstrap", type=int, default=200, help="bootstrap draws per estimate (default: 200)"
    )
    p.add_argument(
        "--covariates",
        action="store_true",
        help="use shared script, shared family and URIEL syntactic distance of the "
        "registry's languages as covariates",
    )
    p.add_argument(
        "--mono",
        type=Path,
        metavar="FILE",
        help="monolingual MRRs as a covariate: CSV (language,mrr) or JSON (our "
        "scores.json); default: the matrix's diagonal when it holds raw MRRs",
    )
    p.add_argument(
        "--adaptive",
        type=float,
        metavar="START",
        help="also backtest an adaptive plan: a balanced START fraction, then rounds of 8 "
        "next-pairs up to each fraction's budget",
    )
    p.add_argument("--out", type=Path, metavar="DIR", help="write CSVs and the figure here")
    p.set_defaults(func=cmd_backtest)

    p = sub.add_parser(
        "next-pairs",
        help="the pairs whose training would settle the blood bank most",
        description="Estimate the matrix from the pairs trained so far "
        "(metrics/finetune_scores.csv, after `dvc repro`) and propose the N untrained "
        "pairs that would remove the most variance from donation D and recipience R, "
        "chosen greedily from the bootstrap draws; by default each D and R counts by how "
        "undecided its sign (the blood type) and its rank still are. With --append they "
        "go to pairs.extra in params.yaml and pairs.yaml is rewritten: the next `dvc "
        "repro` trains only them (and refreshes the estimate). A few pairs per round, "
        "then repeat: each round's estimate informs the next.",
    )
    p.add_argument("count", type=int, metavar="N", help="how many pairs to propose")
    p.add_argument(
        "--focus",
        choices=FOCUS,
        default="types",
        help="types: weigh D and R by their undecided sign and rank (default); sums: all "
        "D and R alike",
    )
    p.add_argument("--append", action="store_true", help="add them to the plan")
    p.add_argument("--params", type=Path, default=Path("params.yaml"), help="default: %(default)s")
    p.set_defaults(func=cmd_next_pairs)

    p = sub.add_parser(
        "dump",
        help="validate a dump file",
        description="Stream a .xml.bz2 dump once and report problems: corrupt "
        "or truncated bz2, not UTF-8, not MediaWiki XML, empty, wrong wiki.",
    )
    p.add_argument("file", type=Path, help="a <wiki>wiki-<date>-pages-articles.xml.bz2 file")
    p.add_argument("--dbname", help="expected wiki, e.g. fiwiki")
    p.set_defaults(func=cmd_dump)

    p = sub.add_parser(
        "graph",
        help="analyse a transfer matrix (ours, the study's, anybody's)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Donation and recipience, blood types, transfer bins, asymmetry, script "
        "and family tests, figures 1-5 and 7, GraphML / JSON exports and a Markdown report.",
        epilog="The CSV's first row holds target codes, its first column source codes.\n"
        "Cells: F in percent, F as a fraction, the ratio MRR_st / MRR_t (percent and ratio\n"
        "are detected unless --kind says), or raw MRRs with each target's monolingual MRR\n"
        "on the diagonal (--kind mrr, as the study's Table 5). Only the diagonal may be\n"
        "empty, and not for ratios or MRRs.\n\n"
        "example: lbb graph --matrix metrics/finetune_scores.csv --mono metrics/scores.json "
        "--out /tmp/bank",
    )
    p.add_argument(
        "--matrix",
        type=Path,
        required=True,
        metavar="CSV",
        help="square matrix, rows sources and columns targets",
    )
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="DIR",
        help="where report.md, analysis.json, figures and exports go",
    )
    p.add_argument(
        "--kind",
        choices=KINDS,
        default="auto",
        help="what the cells hold (default: %(default)s = detect ratio vs percent)",
    )
    p.add_argument(
        "--transpose",
        action="store_true",
        help="the CSV's rows are targets and its columns sources",
    )
    p.add_argument(
        "--mono",
        type=Path,
        metavar="FILE",
        help="monolingual MRRs: CSV (language,mrr) or JSON (our scores.json, or "
        "code -> MRR); enables Figure 4 and the MRR correlations",
    )
    p.add_argument(
        "--bins",
        type=_bins,
        default=[-10.0, 10.0, 55.0],
        metavar="A,B,C",
        help="transfer bin borders in percent (default: -10,10,55)",
    )
    p.add_argument(
        "--resamples",
        type=int,
        default=9999,
        help="Monte Carlo tables for Fisher's test (default: %(default)s)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the Monte Carlo test")
    p.set_defaults(func=cmd_graph)

    p = sub.add_parser(
        "explore",
        help="interactive explorer of the transfer graph",
        description="Serve the explorer (Streamlit) on 127.0.0.1. It opens the pipeline's "
        "outputs (after `dvc repro`) or any matrix that `lbb graph --matrix` accepts.",
    )
    p.add_argument(
        "--outputs",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help="repository root holding metrics/ (default: the current folder)",
    )
    p.add_argument("--matrix", type=Path, metavar="CSV", help="open this matrix instead")
    p.add_argument("--mono", type=Path, metavar="FILE", help="monolingual MRRs for --matrix")
    p.add_argument("--kind", choices=KINDS, default="auto", help="cells of --matrix")
    p.add_argument("--transpose", action="store_true", help="--matrix has targets as rows")
    p.add_argument(
        "--baseline",
        choices=["mono", "matched"],
        default="mono",
        help="which of the pipeline's matrices (default: %(default)s)",
    )
    p.add_argument("--port", type=int, default=8501, help="default: %(default)s")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default: %(default)s, this machine only; "
        "0.0.0.0 exposes it to the network)",
    )
    p.set_defaults(func=cmd_explore)

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
    p.add_argument("targets", nargs="*", help="stages or dvc.yaml (default: the whole pipeline)")
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

    p = sub.add_parser(
        "tables",
        help="Tables 3 and 4 from the finetune runs in MLflow",
        description="Rebuild the downstream tables from MLflow (the newest "
        "finetune run of each configuration, task, seed and source for the "
        "params' seed), as a check on metrics/downstream.json.",
    )
    p.add_argument("--params", default="params.yaml", help="params file (default: %(default)s)")
    p.add_argument("--out", type=Path, help="write the Markdown here instead of printing it")
    p.set_defaults(func=cmd_tables)
    return parser


def main(argv: list[str] | None = None) -> int:
    offline_environment()
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (BloodbankError, OSError) as e:  # a missing path, a directory, a full disk
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
