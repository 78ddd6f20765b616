"""`lbb graph`: the blood bank of any transfer matrix."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from bloodbank.cli.types import bins
from bloodbank.graph.names import KINDS


def cmd_graph(args: argparse.Namespace) -> int:
    from bloodbank.core.config import GraphConfig
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
            out_dir=args.out,
            report_path=report,
            metrics_path=args.out / "analysis.json",
            graph=GraphConfig(bins=args.bins, resamples=args.resamples),
            seed=args.seed,
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


def register(sub: argparse._SubParsersAction) -> None:
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
        type=bins,
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
