"""`lbb backtest` and `lbb next-pairs`: the graph from a fraction of the pairs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bloodbank.cli.types import UsageError, at_least, fractions
from bloodbank.core import paths
from bloodbank.core.io import atomic_path
from bloodbank.graph.names import FOCUS, KINDS


def cmd_backtest(args: argparse.Namespace) -> int:
    import numpy as np
    import pandas as pd

    from bloodbank.graph.backtest import backtest, figure, summarise
    from bloodbank.graph.covariates import pair_covariates
    from bloodbank.graph.estimate import Settings
    from bloodbank.graph.figures import save
    from bloodbank.graph.matrix_io import read_matrix, read_mono_mrr

    at_least(1, {"--draws": args.draws})
    matrix = read_matrix(args.matrix, args.kind, args.transpose)
    full = matrix.frame()
    cells = full.to_numpy()[matrix.off_diagonal()]
    if np.isnan(cells).any():
        print(f"error: {args.matrix}: a backtest needs every off-diagonal cell", file=sys.stderr)
        return 1
    if len(matrix.langs) < 3:  # with 2, every design keeps both pairs: nothing is hidden
        raise UsageError(f"{args.matrix}: a backtest needs 3 languages or more, not 2")
    if np.ptp(cells) == 0:  # D and R all equal: no ranking to recover
        raise UsageError(f"{args.matrix}: every off-diagonal cell is {cells[0]:g}: nothing to rank")
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
        try:
            results[name] = backtest(
                full, args.fraction, args.draws, chosen, covariates, True, adaptive_from=start
            )
        except ValueError as e:  # the estimate's refusal: too few pairs kept at a fraction
            raise UsageError(f"{args.matrix}: {e}; try a larger --fraction") from None
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
    from bloodbank.core.config import load_params
    from bloodbank.graph.completion import complete
    from bloodbank.graph.estimate import next_pairs
    from bloodbank.graph.matrix_io import read_mono_mrr, read_scores
    from bloodbank.graph.proxies import read_proxies

    at_least(1, {"N": args.count})  # 0 or fewer would claim "every pair is measured"
    params = load_params(args.params)
    root = args.params.parent
    source = root / paths.SCORES_BY_BASELINE[params.graph.baseline]
    if not source.is_file():
        print(f"error: {source}: not found; run `dvc repro` first", file=sys.stderr)
        return 1
    frame = read_scores(source)
    scores = root / paths.SCORES_SUMMARY
    mono = read_mono_mrr(scores) if scores.is_file() else None
    langs = list(frame.index)
    # the proxies the estimate stage used, so that the choice follows its estimate (none
    # before the zeroshot and overlap stages have run)
    proxies = None
    if params.estimate.proxies and (root / paths.OVERLAP).is_file():
        proxies = read_proxies(
            langs, lambda src: root / paths.zeroshot_metrics(src), root / paths.OVERLAP
        )
    try:
        completed = complete(
            {params.graph.baseline: frame}, params.estimate, params.seed, mono, proxies=proxies
        )
    except ValueError as e:  # too few pairs measured to estimate the rest
        raise UsageError(f"{source}: {e}; train more pairs (pairs.fraction)") from None
    est = completed.estimates
    chosen = next_pairs(est[params.graph.baseline], args.count, args.focus)
    if not chosen:
        print("every pair is measured already: nothing to propose")
        return 0
    print(f"{'source':8}{'target':8}variance of D and R removed (F², greedy order)")
    for s, t, gain in chosen:
        print(f"{s:8}{t:8}{gain:,.1f}")
    if args.append:
        added = append_extra(args.params, [(s, t) for s, t, _ in chosen])
        sources = len({s for s, _, _ in chosen})
        print(
            f"added {added} pairs to pairs.extra in {args.params}; run `dvc repro`: the "
            f"pair stages of their {sources} sources rerun, with their other targets"
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


def register(sub: argparse._SubParsersAction) -> None:
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
        type=fractions,
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
        "go to pairs.extra in params.yaml: the next `dvc repro` reruns the pair stages of "
        "their sources only (and refreshes the estimate). A few pairs per round, "
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
