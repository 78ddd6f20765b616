"""The study's figures 1–5 and 7, drawn from a transfer matrix and its analysis.

Every figure is sized by the number of languages so that 22 stay legible, and is
written as PNG and SVG with fixed metadata so that reruns give the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
from matplotlib.colors import Normalize, TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from bloodbank.core.io import atomic_path
from bloodbank.graph.analysis import BIN_BORDERS, BIN_NAMES, contingency, pairs_of
from bloodbank.graph.matrix_io import TransferMatrix

plt.rcParams.update({"svg.hashsalt": "bloodbank", "font.size": 9, "axes.titlesize": 10})
TYPE_COLOURS = {
    "O": "#c0392b",
    "AB+": "#2e5fa8",
    "mutual": "#8e44ad",
    "isolated": "#7f8c8d",
    "boundary": "#bdc3c7",
}
F_CMAP = "RdBu"  # red: F < 0 (transfer hurts), blue: F > 0 (transfer helps)
FIGURES = (
    "fig1_graph",
    "fig2_heatmap",
    "fig3_donor_recipient",
    "fig4_mono_mrr",
    "fig5_bins",
    "fig7_histogram",
)


def save(fig: Figure, out_dir: Path, name: str) -> list[Path]:
    """Write ``name``.png and ``name``.svg atomically and close the figure."""
    written = []
    for ext in ("png", "svg"):
        path = out_dir / f"{name}.{ext}"
        meta = {"Date": None} if ext == "svg" else {"Software": None}
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=ext, dpi=150, bbox_inches="tight", metadata=meta)
        written.append(path)
    plt.close(fig)
    return written


def f_norm(f: np.ndarray) -> TwoSlopeNorm:
    """A diverging scale centred on F = 0, symmetric so colour strength compares."""
    limit = max(1.0, float(np.nanmax(np.abs(f[~np.eye(len(f), dtype=bool)]))))
    return TwoSlopeNorm(vcenter=0.0, vmin=-limit, vmax=limit)


def _annotate(ax, values: np.ndarray, norm: Normalize, fmt: str, size: float) -> None:
    for (i, j), v in np.ndenumerate(values):
        if np.isfinite(v):
            strong = abs(norm(v) - 0.5) > 0.3
            text = format(v, fmt)
            ax.text(
                j,
                i,
                "0" if text.lstrip("-").strip("0.") == "" else text,
                ha="center",
                va="center",
                fontsize=size,
                color="white" if strong else "black",
            )


def heatmap(m: TransferMatrix, analysis: dict) -> Figure:
    """Figure 2: F(s→t) with the Don. column and the Recp. row as margins."""
    n, langs = len(m.langs), m.langs
    cell = 0.42 if n > 10 else 0.7
    fig = plt.figure(figsize=(n * cell + 3.2, n * cell + 2.2))
    grid = fig.add_gridspec(
        2, 3, width_ratios=[n, 1.3, 0.5], height_ratios=[n, 1.3], wspace=0.08, hspace=0.08
    )
    ax, ax_d, ax_r = (
        fig.add_subplot(grid[0, 0]),
        fig.add_subplot(grid[0, 1]),
        fig.add_subplot(grid[1, 0]),
    )
    f = np.where(np.eye(n, dtype=bool), np.nan, m.f)
    norm, fmt, size = f_norm(m.f), (".0f" if n > 10 else ".1f"), (6 if n > 10 else 8)
    image = ax.imshow(f, cmap=F_CMAP, norm=norm, aspect="auto")
    ax.imshow(np.where(np.eye(n), 1.0, np.nan), cmap="Greys", vmin=0, vmax=4, aspect="auto")
    _annotate(ax, f, norm, fmt, size)
    for i, j in zip(*np.nonzero(m.estimated()), strict=True):  # estimated, not trained
        ax.add_patch(
            Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="///", lw=0, color="0.35")
        )
    ax.set_xticks(range(n), langs, rotation=90)
    ax.set_yticks(range(n), langs)
    ax.xaxis.tick_top()
    ax.set_xlabel("target t")
    ax.xaxis.set_label_position("top")
    ax.set_ylabel("source s")
    d = np.array([[analysis["languages"][c]["donation"]] for c in langs])
    r = np.array([[analysis["languages"][c]["recipience"] for c in langs]])
    margin_norm = TwoSlopeNorm(
        0.0, -max(1.0, np.abs(d).max(), np.abs(r).max()), max(1.0, np.abs(d).max(), np.abs(r).max())
    )
    for axis, values, label in ((ax_d, d, "Don."), (ax_r, r, "Recp.")):
        axis.imshow(values, cmap=F_CMAP, norm=margin_norm, aspect="auto")
        _annotate(axis, values, margin_norm, ".0f", size)
        axis.set_xticks([])
        axis.set_yticks([])
        (axis.set_title if axis is ax_d else axis.set_ylabel)(label, fontsize=9)
    cax = fig.add_subplot(grid[0, 2])
    fig.colorbar(image, cax=cax, label="F(s→t), % change of MRR on t")
    height = fig.get_figheight()  # the title goes above the target codes on top
    hatched = "; hatched cells estimated, not trained" if m.estimated().any() else ""
    fig.suptitle(
        "Finetune scores F(s→t): rows donate to columns\nDon. = row sums, "
        f"Recp. = column sums (diagonal excluded; own colour scale){hatched}",
        fontsize=9,
        y=1.0 + 0.75 / height,
        va="bottom",
    )
    return fig


def donor_recipient(m: TransferMatrix, analysis: dict) -> Figure:
    """Figure 3: the blood-type plane, donation on x and recipience on y."""
    info = analysis["languages"]
    d = np.array([info[c]["donation"] for c in m.langs])
    r = np.array([info[c]["recipience"] for c in m.langs])
    lim_x, lim_y = 1.25 * max(1.0, np.abs(d).max()), 1.25 * max(1.0, np.abs(r).max())
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    shading = {"O": (1, -1), "AB+": (-1, 1), "mutual": (1, 1), "isolated": (-1, -1)}
    for kind, (sx, sy) in shading.items():
        ax.fill_between([0, sx * lim_x], 0, sy * lim_y, color=TYPE_COLOURS[kind], alpha=0.07)
        ax.text(
            sx * lim_x * 0.97,
            sy * lim_y * 0.97,
            _quadrant_label(kind),
            ha="right" if sx > 0 else "left",
            va="top" if sy > 0 else "bottom",
            color=TYPE_COLOURS[kind],
            fontsize=9,
            fontweight="bold",
        )
    ax.axhline(0, color="black", lw=0.8)
    ax.axvline(0, color="black", lw=0.8)
    colours = [TYPE_COLOURS[info[c]["type"]] for c in m.langs]
    ax.scatter(d, r, c=colours, s=36, edgecolor="white", linewidth=0.6, zorder=3)
    for point, text, code in _spread_labels(d, r, m.langs, lim_x, lim_y):
        ax.annotate(
            code,
            point,
            xytext=text,
            fontsize=8,
            zorder=4,
            va="center",
            arrowprops={"arrowstyle": "-", "color": "0.6", "lw": 0.5},
        )
    ax.set(
        xlim=(-lim_x, lim_x),
        ylim=(-lim_y, lim_y),
        xlabel="donation D(l) = Σ_t F(l→t), percentage points",
        ylabel="recipience R(l) = Σ_s F(s→l), percentage points",
        title="Donors and recipients: the linguistic blood types",
    )
    return fig


def _quadrant_label(kind: str) -> str:
    return {
        "O": "O: donates, does not receive",
        "AB+": "AB+: receives, does not donate",
        "mutual": "mutual: donates and receives",
        "isolated": "isolated: neither donates nor receives",
    }[kind]


def _spread_labels(
    x: np.ndarray, y: np.ndarray, codes: list[str], lim_x: float, lim_y: float
) -> list[tuple[tuple[float, float], tuple[float, float], str]]:
    """Label positions pushed apart so that 22 codes do not overlap: each label starts
    just right of its point and is moved down past any label it would cover."""
    placed: list[tuple[float, float]] = []
    out = []
    dx, dy = 0.03 * lim_x, 0.045 * lim_y
    for i in np.lexsort((x, -y)):
        lx, ly = x[i] + dx, y[i]
        while any(abs(lx - px) < 4.2 * dx and abs(ly - py) < dy for px, py in placed):
            ly -= dy
        placed.append((lx, ly))
        out.append(((float(x[i]), float(y[i])), (float(lx), float(ly)), codes[i]))
    return out


def mono_mrr_scatter(m: TransferMatrix, analysis: dict) -> Figure:
    """Figure 4: F(s→t) against the monolingual MRR of the source and of the target."""
    info, tests = analysis["languages"], analysis["tests"]
    pairs = pairs_of(m)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharey=True)
    for ax, role in zip(axes, ("source", "target"), strict=True):
        x = np.array([info[getattr(p, role)].get("mono_mrr", np.nan) for p in pairs])
        y = np.array([p.f for p in pairs])
        ax.scatter(x, y, s=12, alpha=0.6, color="#34495e")
        test = tests.get(f"{role}_mono_mrr_vs_f", {})
        if test.get("r") is not None:
            ok = np.isfinite(x)
            slope, icept = np.polyfit(x[ok], y[ok], 1)
            xs = np.linspace(x[ok].min(), x[ok].max(), 2)
            ax.plot(xs, slope * xs + icept, color="#c0392b", lw=1)
            ax.set_title(f"by {role}: r = {test['r']:.2f}, p = {test['p']:.2g}, n = {test['n']}")
        else:
            ax.set_title(f"by {role}: correlation undefined")
        ax.axhline(0, color="0.5", lw=0.6)
        ax.set_xlabel(f"monolingual MRR of the {role} language")
    axes[0].set_ylabel("F(s→t), %")
    return fig


def bins_figure(m: TransferMatrix, analysis: dict) -> Figure:
    """Figure 5: share of pairs per transfer bin, same versus different script / family."""
    pairs = pairs_of(m)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    x = np.arange(len(BIN_NAMES))
    borders = tuple(analysis["bins"]["borders"].values()) or BIN_BORDERS
    for ax, attr in zip(axes, ("script", "family"), strict=True):
        table = contingency(pairs, f"same_{attr}", borders)
        for row, (label, colour, shift) in enumerate(
            ((f"same {attr}", "#2e86c1", -0.2), (f"different {attr}", "#e67e22", 0.2))
        ):
            total = table[row].sum()
            share = 100 * table[row] / total if total else np.zeros(len(x))
            bars = ax.bar(x + shift, share, width=0.4, color=colour, label=f"{label} (n={total})")
            ax.bar_label(bars, fmt="%.0f", fontsize=7)
        test = analysis["tests"][f"{attr}_effect"]
        p = (
            test["note"]
            if test["p"] is None
            else f"χ² p = {test['p']:.2g}, Fisher p = {test['fisher_p']:.2g}"
        )
        ax.set_title(f"({'ab'[attr == 'family']}) {attr}: {p}")
        ax.set_xticks(x, [_bin_label(i, borders) for i in range(len(BIN_NAMES))], fontsize=8)
        ax.legend(fontsize=8, loc="best")
    axes[0].set_ylabel("pairs in the group, %")
    return fig


def _bin_label(i: int, borders: tuple[float, ...]) -> str:
    lo = "" if i == 0 else f"{borders[i - 1]:g} ≤ "
    hi = "" if i == len(borders) else f" < {borders[i]:g}"
    return f"{BIN_NAMES[i]}\n{lo}F{hi}"


def histogram(m: TransferMatrix, analysis: dict) -> Figure:
    """Figure 7: the distribution of F with the transfer-bin borders."""
    values = m.f[m.off_diagonal()]
    borders = tuple(analysis["bins"]["borders"].values())
    fig, ax = plt.subplots(figsize=(8, 3.8))
    ax.hist(values, bins=max(10, min(60, len(values) // 6)), color="#5d6d7e", edgecolor="white")
    for b in borders:
        ax.axvline(b, color="#c0392b", lw=1, ls="--")
        ax.text(b, ax.get_ylim()[1], f" {b:g}", color="#c0392b", va="top", fontsize=8)
    ax.set(
        xlabel="F(s→t), %",
        ylabel="ordered pairs",
        title=f"Transfer scores of {len(values)} ordered pairs; dashed lines: bin borders",
    )
    return fig


def graph_drawing(m: TransferMatrix, analysis: dict, threshold: float = 0.0) -> Figure:
    """Figure 1: the directed transfer graph, nodes by blood type, edges by F (those with
    |F| ≥ ``threshold``)."""
    info = analysis["languages"]
    graph = nx.DiGraph()
    order = analysis["donor_ranking"].split(" > ")
    graph.add_nodes_from(order)
    for (i, j), v in np.ndenumerate(m.f):
        if i != j and np.isfinite(v) and abs(v) >= threshold:
            graph.add_edge(m.langs[i], m.langs[j], f=float(v))
    pos = nx.circular_layout(order)
    n = len(order)
    fig, ax = plt.subplots(figsize=(7 + 0.15 * n, 7 + 0.15 * n))
    norm = f_norm(m.f)
    edges = sorted(graph.edges(data="f"), key=lambda e: abs(e[2]))  # strong edges on top
    top = max([1e-9, *(abs(e[2]) for e in edges)])
    nx.draw_networkx_edges(
        graph,
        pos,
        ax=ax,
        edgelist=[e[:2] for e in edges],
        width=[0.3 + 3.0 * abs(e[2]) / top for e in edges],
        edge_color=[e[2] for e in edges],
        edge_cmap=plt.get_cmap(F_CMAP),
        edge_vmin=norm.vmin,
        edge_vmax=norm.vmax,
        alpha=0.75,
        arrowsize=8,
        connectionstyle="arc3,rad=0.12",
        node_size=700,
    )
    nx.draw_networkx_nodes(
        graph,
        pos,
        ax=ax,
        node_size=700,
        edgecolors="white",
        node_color=[TYPE_COLOURS[info[c]["type"]] for c in order],
    )
    nx.draw_networkx_labels(graph, pos, ax=ax, font_size=8, font_color="white")
    sm = plt.cm.ScalarMappable(cmap=F_CMAP, norm=norm)
    fig.colorbar(sm, ax=ax, shrink=0.6, label="edge s→t: F(s→t), %")
    handles = [
        plt.Line2D([], [], marker="o", ls="", color=TYPE_COLOURS[t], label=t)
        for t in ("O", "AB+", "mutual", "isolated")
    ]
    ax.legend(handles=handles, title="blood type", loc="upper left", fontsize=8)
    ax.set_title(
        "Bilingual transfer graph\nlanguages by donation, counter-clockwise from the "
        "right; edge width ∝ |F|"
    )
    ax.set_aspect("equal")
    ax.axis("off")
    return fig


DRAWERS: dict[str, Callable[[TransferMatrix, dict], Figure]] = {
    "fig1_graph": graph_drawing,
    "fig2_heatmap": heatmap,
    "fig3_donor_recipient": donor_recipient,
    "fig4_mono_mrr": mono_mrr_scatter,
    "fig5_bins": bins_figure,
    "fig7_histogram": histogram,
}


def draw_all(m: TransferMatrix, analysis: dict, out_dir: Path) -> dict[str, Path]:
    """Every figure that the inputs allow (Figure 4 needs monolingual MRRs); name → PNG."""
    out = {}
    has_mono = "source_mono_mrr_vs_f" in analysis["tests"]
    for name, draw in DRAWERS.items():
        if name == "fig4_mono_mrr" and not has_mono:
            continue
        out[name] = save(draw(m, analysis), out_dir, name)[0]
    return out
