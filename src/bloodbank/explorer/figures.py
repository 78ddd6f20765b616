"""Interactive (Plotly) views of the explorer and their static PNG exports.

The views take plain labels and matrices, so the same code draws languages and the
feature groups of a collapsed view.
"""

from __future__ import annotations

import io

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale
from plotly.subplots import make_subplots

from bloodbank.graph.analysis import donation, recipience
from bloodbank.graph.figures import TYPE_COLOURS, donor_recipient, graph_drawing, heatmap
from bloodbank.graph.matrix_io import TransferMatrix

SCALE = "RdBu"  # red: F < 0, blue: F > 0, as in the report's figures
NEUTRAL_NODE = "#5d6d7e"
LEVELS = 6  # edge strengths drawn with distinct width and colour


def _limit(f: np.ndarray) -> float:
    off = f[~np.eye(len(f), dtype=bool)] if len(f) > 1 else np.array([1.0])
    finite = off[np.isfinite(off)]
    return max(1.0, float(np.abs(finite).max())) if finite.size else 1.0


def positions(n: int) -> np.ndarray:
    """Nodes on a circle, first on the right, counter-clockwise (as Figure 1)."""
    angles = 2 * np.pi * np.arange(n) / max(n, 1)
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


def graph_view(
    labels: list[str],
    f: np.ndarray,
    threshold: float,
    colours: list[str],
    hover: list[str],
    focus: str | None = None,
    estimated: np.ndarray | None = None,
) -> go.Figure:
    """The directed graph: an arrow per edge with |F| ≥ threshold, width ∝ |F|, colour by F.
    With ``focus``, its in-edges and out-edges stand out and the rest fade. Edges marked
    in ``estimated`` (not trained, filled in by the estimate) are dotted."""
    guessed = np.zeros((len(labels),) * 2, bool) if estimated is None else estimated
    pos, limit, fig = positions(len(labels)), _limit(f), go.Figure()
    rows, cols = np.nonzero(
        ~np.eye(len(labels), dtype=bool) & np.isfinite(f) & (np.abs(np.nan_to_num(f)) >= threshold)
    )
    # Edges share a trace per (strength level, sign, focus): a few traces, not hundreds,
    # drawn under the nodes; an arrow marker at each target end gives the direction.
    groups: dict[tuple[int, bool, bool, bool], list[tuple[np.ndarray, np.ndarray]]] = {}
    for i, j in zip(rows, cols, strict=True):
        a, b = pos[i], pos[j]
        normal = np.array([b[1] - a[1], a[0] - b[0]]) * 0.04  # a→b and b→a side by side
        level = min(LEVELS - 1, int(LEVELS * abs(f[i, j]) / limit))
        lit = focus is None or focus in (labels[i], labels[j])
        key = (level, bool(f[i, j] >= 0), lit, bool(guessed[i, j]))
        groups.setdefault(key, []).append((a + 0.1 * (b - a) + normal, b - 0.13 * (b - a) + normal))
    for (level, positive, lit, dotted), segments in sorted(groups.items()):
        strength = (level + 0.5) / LEVELS
        colour = sample_colorscale(SCALE, [0.5 + 0.5 * strength * (1 if positive else -1)])[0]
        xs, ys, sizes = [], [], []
        for start, end in segments:
            xs += [start[0], end[0], None]
            ys += [start[1], end[1], None]
            sizes += [0, 7 + 6 * strength, 0]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines+markers",
                hoverinfo="skip",
                opacity=1.0 if lit else 0.12,
                line={
                    "color": colour,
                    "width": 0.6 + 4.0 * strength,
                    "dash": "dot" if dotted else "solid",
                },
                marker={"symbol": "arrow", "angleref": "previous", "size": sizes, "color": colour},
            )
        )
    fig.add_trace(
        go.Scatter(
            x=pos[:, 0],
            y=pos[:, 1],
            mode="markers+text",
            text=labels,
            hovertext=hover,
            hoverinfo="text",
            textfont={"color": "white", "size": 11},
            marker={"size": 34, "color": colours, "line": {"color": "white", "width": 2}},
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[None],
            y=[None],
            mode="markers",
            hoverinfo="none",
            marker={
                "colorscale": SCALE,
                "cmin": -limit,
                "cmax": limit,
                "color": [0],
                "showscale": True,
                "colorbar": {"title": {"text": "F(s→t), %"}},
            },
        )
    )
    fig.update_layout(
        showlegend=False,
        height=640,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"visible": False, "range": [-1.25, 1.25]},
        yaxis={"visible": False, "range": [-1.25, 1.25], "scaleanchor": "x"},
        plot_bgcolor="white",
    )
    return fig


def heatmap_view(labels: list[str], f: np.ndarray, diagonal: bool = False) -> go.Figure:
    """F with the Don. column and the Recp. row (sums over the shown labels). The diagonal
    is hidden unless asked for (it means something only for collapsed groups)."""
    n, limit = len(labels), _limit(f)
    shown = f if diagonal else np.where(np.eye(n, dtype=bool), np.nan, f)
    d, r = donation(f), recipience(f)
    edge = max(1.0, float(np.abs(np.concatenate([d, r])).max())) if n else 1.0
    fig = make_subplots(
        rows=2,
        cols=2,
        column_widths=[0.88, 0.12],
        row_heights=[0.88, 0.12],
        horizontal_spacing=0.02,
        vertical_spacing=0.02,
    )
    text_size = 9 if n > 12 else 12
    fig.add_trace(
        go.Heatmap(
            z=shown,
            x=labels,
            y=labels,
            colorscale=SCALE,
            zmid=0,
            zmin=-limit,
            zmax=limit,
            texttemplate="%{z:.0f}",
            textfont={"size": text_size},
            hovertemplate="F(%{y}→%{x}) = %{z:.2f}%<extra></extra>",
            colorbar={"title": {"text": "F, %"}, "x": 1.02},
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Heatmap(
            z=d[:, None],
            x=["Don."],
            y=labels,
            colorscale=SCALE,
            zmid=0,
            zmin=-edge,
            zmax=edge,
            showscale=False,
            texttemplate="%{z:.0f}",
            hovertemplate="D(%{y}) = %{z:.1f}<extra></extra>",
        ),
        row=1,
        col=2,
    )
    fig.add_trace(
        go.Heatmap(
            z=r[None, :],
            x=labels,
            y=["Recp."],
            colorscale=SCALE,
            zmid=0,
            zmin=-edge,
            zmax=edge,
            showscale=False,
            texttemplate="%{z:.0f}",
            hovertemplate="R(%{x}) = %{z:.1f}<extra></extra>",
        ),
        row=2,
        col=1,
    )
    fig.update_yaxes(autorange="reversed", row=1, col=1, title_text="source s")
    fig.update_yaxes(autorange="reversed", row=1, col=2, showticklabels=False)
    fig.update_xaxes(side="top", row=1, col=1, title_text="target t")
    fig.update_xaxes(matches="x", row=2, col=1, showticklabels=False)
    fig.update_yaxes(matches="y", row=1, col=2)
    fig.update_layout(height=260 + 26 * n, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig


def plane_view(labels: list[str], d: np.ndarray, r: np.ndarray, types: list[str]) -> go.Figure:
    """Donation against recipience with the four blood-type quadrants."""
    lim_x = 1.25 * max(1.0, float(np.abs(d).max())) if len(d) else 1.0
    lim_y = 1.25 * max(1.0, float(np.abs(r).max())) if len(r) else 1.0
    fig = go.Figure()
    quadrants = {"O": (1, -1), "AB+": (-1, 1), "mutual": (1, 1), "isolated": (-1, -1)}
    for kind, (sx, sy) in quadrants.items():
        fig.add_shape(
            type="rect",
            x0=0,
            x1=sx * lim_x,
            y0=0,
            y1=sy * lim_y,
            line_width=0,
            fillcolor=TYPE_COLOURS[kind],
            opacity=0.08,
            layer="below",
        )
        fig.add_annotation(
            x=sx * lim_x * 0.95,
            y=sy * lim_y * 0.95,
            text=f"<b>{kind}</b>",
            showarrow=False,
            font={"color": TYPE_COLOURS[kind]},
            xanchor="right" if sx > 0 else "left",
        )
    fig.add_trace(
        go.Scatter(
            x=d,
            y=r,
            mode="markers+text",
            text=labels,
            textposition="middle right",
            marker={"size": 11, "color": [TYPE_COLOURS.get(t, NEUTRAL_NODE) for t in types]},
            hovertemplate="%{text}: D = %{x:.1f}, R = %{y:.1f}<extra></extra>",
        )
    )
    fig.update_layout(
        xaxis={"title": "donation D", "range": [-lim_x, lim_x], "zeroline": True},
        yaxis={"title": "recipience R", "range": [-lim_y, lim_y], "zeroline": True},
        height=560,
        showlegend=False,
        margin={"t": 20},
    )
    return fig


def truth_view(table, column: str, label: str) -> go.Figure:
    """Planted truth (shared words) against the measured F, one point per ordered pair."""
    names = [f"{s}→{t}" for s, t in zip(table["source"], table["target"], strict=True)]
    fig = go.Figure(
        go.Scatter(
            x=table["truth"],
            y=table[column],
            mode="markers+text",
            text=names,
            textposition="top center",
            marker={"size": 10, "color": "#2e5fa8"},
            hovertemplate="%{text}: truth %{x:.1f}%, F %{y:.1f}%<extra></extra>",
        )
    )
    fig.add_hline(y=0.0, line_color="grey", line_width=1)
    fig.update_layout(
        xaxis={"title": "planted truth: the target's words the source also writes (%)"},
        yaxis={"title": f"{label} (%)"},
        height=520,
        showlegend=False,
        margin={"t": 20},
    )
    return fig


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=150, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _lite_analysis(m: TransferMatrix, types: dict[str, str]) -> dict:
    """The parts of an analysis that the report's figures read, for any labels."""
    d, r = donation(m.f), recipience(m.f)
    order = [m.langs[i] for i in sorted(range(len(m.langs)), key=lambda i: (-d[i], i))]
    return {
        "languages": {
            c: {
                "donation": float(d[i]),
                "recipience": float(r[i]),
                "type": types.get(c, "boundary"),
            }
            for i, c in enumerate(m.langs)
        },
        "donor_ranking": " > ".join(order),
    }


def png(view: str, m: TransferMatrix, types: dict[str, str], threshold: float = 0.0) -> bytes:
    """The current view as a static PNG, drawn like the report's figures."""
    analysis = _lite_analysis(m, types)
    if view == "graph":
        return _png(graph_drawing(m, analysis, threshold))
    if view == "plane":
        return _png(donor_recipient(m, analysis))
    return _png(heatmap(m, analysis))
