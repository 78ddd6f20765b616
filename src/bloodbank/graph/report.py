"""reports/graph.md: the blood bank in words, numbers and figures, and the code that
writes every output of the analysis (metrics JSON, figures, exports, report)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from bloodbank.core.config import GraphConfig
from bloodbank.core.io import atomic_path, write_json
from bloodbank.graph.analysis import BIN_NAMES, TYPES, analyse
from bloodbank.graph.exports import export_all
from bloodbank.graph.figures import draw_all
from bloodbank.graph.matrix_io import TransferMatrix
from bloodbank.graph.planted import RECOVERY_SLACK, lead, report_truth

ALPHA = 0.05
CAPTIONS = {
    "fig1_graph": "Figure 1. The directed transfer graph.",
    "fig2_heatmap": "Figure 2. Finetune scores with donation and recipience margins.",
    "fig3_donor_recipient": "Figure 3. Donation against recipience: the blood types.",
    "fig4_mono_mrr": "Figure 4. F against the monolingual MRR of source and target.",
    "fig5_bins": "Figure 5. Transfer bins for same and different script and family.",
    "fig7_histogram": "Figure 7. Histogram of F with the bin borders.",
}


def _significance(p: float) -> str:
    return f"significant at {ALPHA}" if p < ALPHA else f"not significant at {ALPHA}"


def _strength(r: float) -> str:
    size = abs(r)
    word = "weak" if size < 0.3 else "moderate" if size < 0.6 else "strong"
    return f"{word} {'negative' if r < 0 else 'positive'}"


def correlation_line(name: str, test: dict, meaning: str) -> str:
    if test.get("r") is None:
        return f"| {name} | — | — | {test.get('n', 0)} | {test.get('note', 'undefined')} |"
    reading = meaning if test["p"] < ALPHA else "no evidence of a linear relation"
    return (
        f"| {name} | r = {test['r']:.3f} | {test['p']:.3g} | {test['n']} | "
        f"{_strength(test['r'])} correlation, {_significance(test['p'])}: {reading} |"
    )


def effect_line(attr: str, test: dict) -> str:
    if test["p"] is None:
        return f"| shared {attr} vs bins | — | — | — | {test['note']} |"
    p = test["fisher_p"] if test["min_expected"] < 5 else test["p"]
    verdict = "changes" if p < ALPHA else "does not significantly change"
    return (
        f"| shared {attr} vs bins | χ²({test['dof']}) = {test['chi2']:.2f} | "
        f"{test['p']:.3g} (Fisher {test['fisher_p']:.3g}) | — | sharing a {attr} "
        f"{verdict} how transfer scores fall into bins; {test['note']} |"
    )


def render(analysis: dict, figures: dict[str, Path], report_path: Path) -> str:
    info, tests = analysis["languages"], analysis["tests"]
    lines = [
        "# The Linguistic Blood Bank: graph analysis",
        "",
        f"{analysis['input']['n_languages']} languages, {analysis['input']['n_pairs']} "
        f"ordered pairs. Input read as **{analysis['input']['kind']}**: "
        f"{analysis['input']['kind_reason']}. Mean F over pairs: "
        f"{analysis['mean_f']:.2f}%.",
        "",
        "## Donors and recipients",
        "",
        f"- Donors, most to least (D): {analysis['donor_ranking']}",
        f"- Recipients, most to least (R): {analysis['recipient_ranking']}",
        "",
        "| language | name | script | family | D | donor rank | R | recipient rank | type "
        "| type (centred) | mono MRR |",
        "|---|---|---|---|---:|---:|---:|---:|---|---|---:|",
    ]
    for code in analysis["donor_ranking"].split(" > "):
        x = info[code]
        mrr = f"{x['mono_mrr']:.4f}" if "mono_mrr" in x else "—"
        lines.append(
            f"| {code} | {x['name']} | {x['script']} | {x['family']} | "
            f"{x['donation']:.1f} | {x['donor_rank']} | {x['recipience']:.1f} | "
            f"{x['recipient_rank']} | {x['type']} | {x['type_centred']} | {mrr} |"
        )
    lines += [
        "",
        "## Blood types",
        "",
        "The study's reading, from the signs of D and R (so F > 0 must mean that the "
        "source helped):",
        "",
    ]
    for kind, meaning in TYPES.items():
        members = analysis["types"][kind]
        if members or kind != "boundary":
            lines.append(f"- **{kind}** ({meaning}): {members.replace(',', ', ') or 'none'}")
    lines += [
        "",
        "Read against the average language, from the signs of D − mean(D) and R − mean(R) "
        "(a donor helps more than the average source; the reading that still means something "
        "when a brief pair recipe makes every F negative):",
        "",
    ]
    for kind in TYPES:
        members = analysis["types_centred"][kind]
        if members or kind != "boundary":
            lines.append(f"- **{kind}**: {members.replace(',', ', ') or 'none'}")
    lines += [
        "",
        "## Transfer bins",
        "",
        "| pairs | " + " | ".join(BIN_NAMES) + " |",
        "|---|" + "---:|" * len(BIN_NAMES),
    ]
    for group, counts in analysis["bins"].items():
        if group != "borders":
            lines.append(
                f"| {group.replace('_', ' ')} | "
                + " | ".join(str(counts[b]) for b in BIN_NAMES)
                + " |"
            )
    b = analysis["bins"]["borders"]
    lines += [
        "",
        f"Borders: negative < {b['negative_below']:g} ≤ neutral < "
        f"{b['positive_from']:g} ≤ positive < {b['very_positive_from']:g} ≤ very "
        "positive (F in percent).",
        "",
        "## Statistical tests",
        "",
        "| test | statistic | p | n | reading |",
        "|---|---|---|---|---|",
        correlation_line(
            "asymmetry: F(a→b) vs F(b→a)",
            tests["asymmetry"],
            "transfer is not symmetric"
            if (tests["asymmetry"].get("r") or 1) < 0.5
            else "transfer is largely symmetric",
        ),
        effect_line("script", tests["script_effect"]),
        effect_line("family", tests["family_effect"]),
    ]
    if "mono_mrr_vs_donation" in tests:
        lines += [
            correlation_line(
                "mono MRR vs donation D",
                tests["mono_mrr_vs_donation"],
                "better monolingual models donate more"
                if (tests["mono_mrr_vs_donation"].get("r") or 0) > 0
                else "better monolingual models donate less",
            ),
            correlation_line(
                "mono MRR vs recipience R",
                tests["mono_mrr_vs_recipience"],
                "weaker monolingual models receive more"
                if (tests["mono_mrr_vs_recipience"].get("r") or 0) < 0
                else "stronger monolingual models receive more",
            ),
            correlation_line(
                "F vs source mono MRR",
                tests["source_mono_mrr_vs_f"],
                "over ordered pairs (Figure 4, left)",
            ),
            correlation_line(
                "F vs target mono MRR",
                tests["target_mono_mrr_vs_f"],
                "over ordered pairs (Figure 4, right)",
            ),
        ]
    else:
        lines += [
            "",
            "No monolingual MRRs were given, so their correlations and Figure 4 are left out.",
        ]
    lines += [
        "",
        "p-values: Pearson r with a two-sided Student t test; Pearson's χ² test "
        "of independence; Fisher's exact test by Monte Carlo over tables with the same "
        "margins. All from scipy.",
        "",
        "## Figures",
        "",
    ]
    for name, png in figures.items():
        rel = os.path.relpath(png, report_path.parent)
        lines += [f"![{CAPTIONS[name]}]({rel})", "", f"*{CAPTIONS[name]}*", ""]
    return "\n".join(lines) + "\n"


def estimate_section(matrix: TransferMatrix, table: pd.DataFrame | None) -> str:
    """What was measured and what estimated, with each language's intervals."""
    estimated = matrix.estimated()
    if not estimated.any():
        return ""
    n = len(matrix.langs)
    lines = [
        "",
        "## Measured and estimated edges",
        "",
        f"{n * (n - 1) - int(estimated.sum())} of {n * (n - 1)} ordered pairs were trained; "
        f"the other {int(estimated.sum())} were estimated from them (additive + low-rank + "
        "covariates, `metrics/estimate/`). Hatched cells in Figure 2 and edges with "
        "`measured: false` in the exports are estimates. Every number above is read from "
        "the completed matrix; the intervals below say how far to trust it.",
    ]
    if table is not None:
        lines += [
            "",
            "| language | D | D 90% | R | R 90% | donor rank 90% | recipient rank 90% "
            "| P(O) | P(AB+) | P(mutual) | P(isolated) |",
            "|---|---:|---|---:|---|---|---|---:|---:|---:|---:|",
        ]
        for code, x in table.iterrows():
            lines.append(
                f"| {code} | {x['D']:.1f} | [{x['D_low']:.1f}, {x['D_high']:.1f}] | "
                f"{x['R']:.1f} | [{x['R_low']:.1f}, {x['R_high']:.1f}] | "
                f"{int(x['D_rank_low'])}–{int(x['D_rank_high'])} | "
                f"{int(x['R_rank_low'])}–{int(x['R_rank_high'])} | {x['p_O']:.2f} | "
                f"{x['p_AB+']:.2f} | {x['p_mutual']:.2f} | {x['p_isolated']:.2f} |"
            )
    return "\n".join(lines) + "\n"


GRAPH = GraphConfig()


def publish(
    matrix: TransferMatrix,
    mono_mrr: dict[str, float] | None,
    *,
    out_dir: Path,
    report_path: Path,
    metrics_path: Path,
    graph: GraphConfig = GRAPH,
    seed: int = 0,
    intervals: pd.DataFrame | None = None,
    truth: pd.DataFrame | None = None,
    scores: dict[str, pd.DataFrame] | None = None,
    recovery_slack: float | None = RECOVERY_SLACK,
) -> dict:
    """Analyse ``matrix`` and write metrics JSON, figures, exports and the report.

    ``graph`` gives the bins and the Fisher test's resamples; ``intervals`` is the
    estimate's per-language table, for a matrix partly estimated; ``truth`` a synthetic
    world's planted truth, set beside ``scores`` (F per baseline), with
    ``recovery_slack`` the recovery check's bar (``planted.recovery_slack``)."""
    analysis = analyse(matrix, mono_mrr, seed, tuple(graph.bins), graph.resamples)
    if matrix.estimated().any():
        analysis["estimated_pairs"] = int(matrix.estimated().sum())
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = draw_all(matrix, analysis, out_dir)
    export_all(matrix, analysis, out_dir)
    planted, truth_text = report_truth(
        truth, scores or {"mono": matrix.frame()}, out_dir, report_path.parent, recovery_slack
    )
    if planted is not None:
        analysis["planted_truth"] = planted
    text = render(analysis, figures, report_path) + truth_text + estimate_section(matrix, intervals)
    if planted is not None:  # a synthetic world: the report leads with what it found
        head, sep, rest = text.partition("\n## Donors and recipients")
        text = head + lead(planted) + sep + rest
    with atomic_path(report_path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    write_json(metrics_path, analysis)
    return analysis
