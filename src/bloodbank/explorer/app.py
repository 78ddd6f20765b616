"""The Linguistic Blood Bank explorer (Streamlit). Start it with ``lbb explore``.

Arguments after ``--``: ``--outputs DIR`` (a repository after ``dvc repro``) or
``--matrix CSV [--mono FILE] [--kind K] [--transpose]``; ``--baseline mono|matched``.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import streamlit as st

from bloodbank import typology
from bloodbank.explorer import data as xd
from bloodbank.explorer import figures as xf
from bloodbank.graph.figures import TYPE_COLOURS
from bloodbank.graph.matrix_io import KINDS, TransferMatrix
from bloodbank.graph.planted import BASELINE_NAMES, slope_sentence

BASE = ("family", "script")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="explorer")
    parser.add_argument("--outputs", default=".")
    parser.add_argument("--matrix")
    parser.add_argument("--mono")
    parser.add_argument("--kind", choices=KINDS, default="auto")
    parser.add_argument("--transpose", action="store_true")
    parser.add_argument("--baseline", choices=sorted(xd.BASELINES), default="mono")
    return parser.parse_known_args(argv)[0]


@st.cache_data(show_spinner="Reading the transfer matrix…")
def load(
    outputs: str,
    matrix: str | None,
    mono: str | None,
    kind: str,
    baseline: str,
    transpose: bool = False,
    upload: bytes | None = None,
) -> xd.Bank:
    if upload is not None:
        import tempfile
        from pathlib import Path

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "uploaded.csv"
            path.write_bytes(upload)
            return xd.load_csv(path, None, kind, transpose)
    if matrix:
        return xd.load_csv(matrix, mono, kind, transpose)
    return xd.load_outputs(outputs, baseline)


def sidebar_filters(bank: xd.Bank) -> tuple[list[str], float, str | None]:
    """Languages kept by the filters, the edge threshold, and the collapse feature."""
    facets = xd.facets(bank)
    features = [f for f in facets if f not in BASE]
    st.sidebar.header("Filters")
    langs = st.sidebar.multiselect("Languages", bank.langs, help="empty: all languages")
    keep = {
        "family": st.sidebar.multiselect(
            "Family", facets["family"], help="keep only these; empty: all"
        ),
        "script": st.sidebar.multiselect(
            "Script", facets["script"], help="keep only these; empty: all"
        ),
    }
    hide: dict[str, list[str]] = {}
    feature = st.sidebar.selectbox(
        "Typological feature",
        ["(none)", *features],
        help="URIEL / WALS via lang2vec for real languages; declared properties for synthetic ones",
    )
    if feature != "(none)":
        values = st.sidebar.multiselect(f"Values of {feature}", facets[feature])
        mode = st.sidebar.radio("Languages with these values", ["keep", "hide"], horizontal=True)
        (keep if mode == "keep" else hide)[feature] = values
    chosen = xd.select(bank, langs, keep, hide)
    limit = float(np.ceil(np.nanmax(np.abs(bank.matrix.f[bank.matrix.off_diagonal()]))))
    threshold = st.sidebar.slider("Edge threshold |F| ≥ (%)", 0.0, max(limit, 1.0), 0.0, step=0.5)
    collapse = st.sidebar.selectbox(
        "Collapse by feature",
        ["(none)", *BASE, *features],
        help="average F within each value group, as the study's explorer did",
    )
    return chosen, threshold, None if collapse == "(none)" else collapse


def hover(bank: xd.Bank, code: str) -> str:
    info = bank.analysis["languages"][code]
    mrr = bank.mono.get(code)
    return (
        f"{code} {info['name']} ({info['family']}, {info['script']})<br>type {info['type']}"
        f", D {info['donation']:.1f}, R {info['recipience']:.1f}"
        + (f", MRR {mrr:.3f}" if mrr is not None else "")
    )


def view(
    bank: xd.Bank, chosen: list[str], collapse: str | None
) -> tuple[TransferMatrix, list[str], list[str], dict[str, str], bool]:
    """The matrix on screen, node colours, hover texts, types, and whether it is grouped."""
    if collapse:
        groups, values = xd.collapse(bank, chosen, collapse)
        m = TransferMatrix(groups, values, "percent", f"mean F by {collapse}")
        return m, [xf.NEUTRAL_NODE] * len(groups), [f"{collapse} = {g}" for g in groups], {}, True
    m = xd.submatrix(bank, chosen)
    types = {c: bank.analysis["languages"][c]["type"] for c in chosen}
    colours = [TYPE_COLOURS[types[c]] for c in chosen]
    return m, colours, [hover(bank, c) for c in chosen], types, False


def graph_tab(
    m: TransferMatrix,
    colours: list[str],
    hovers: list[str],
    threshold: float,
    types: dict[str, str],
) -> None:
    focus = st.selectbox("Highlight the in- and out-edges of", ["(none)", *m.langs])
    focus = None if focus == "(none)" else focus
    st.plotly_chart(
        xf.graph_view(m.langs, m.f, threshold, colours, hovers, focus, m.estimated()),
        width="stretch",
        key="graph",
    )
    if not types:
        st.caption("Collapsed: nodes are feature groups, edges the mean F between them.")
    else:
        st.caption(
            ":red[●] O: donates, does not receive · :blue[●] AB+: receives, does not "
            "donate · :violet[●] mutual · :gray[●] isolated (types in the full graph)"
        )
    shown = xd.edges(m, threshold)
    if focus:
        shown = [e for e in shown if focus in e[:2]]
    st.subheader(f"Edges shown: {len(shown)}")
    st.table(
        {
            "source": [e[0] for e in shown[:60]],
            "target": [e[1] for e in shown[:60]],
            "F (%)": [round(e[2], 2) for e in shown[:60]],
        }
    )
    download_png("graph", m, types, threshold)


def heatmap_tab(m: TransferMatrix, types: dict[str, str], grouped: bool) -> None:
    by = st.radio("Sort by", ["matrix", "donation", "recipience"], horizontal=True)
    m = xd.reorder(m, xd.order(m, by))
    st.plotly_chart(xf.heatmap_view(m.langs, m.f, diagonal=grouped), width="stretch", key="heatmap")
    st.download_button(
        "Download the shown matrix (CSV)",
        xd.matrix_csv(m.langs, m.f),
        file_name="transfer_matrix.csv",
        mime="text/csv",
    )
    download_png("heatmap", m, types)


def plane_tab(m: TransferMatrix, types: dict[str, str]) -> None:
    d, r = xd.margins(m)
    st.plotly_chart(
        xf.plane_view(m.langs, d, r, [types.get(c, "") for c in m.langs]),
        width="stretch",
        key="plane",
    )
    st.caption("D and R summed over the shown languages; colours are the types in the full graph.")
    download_png("plane", m, types)


def download_png(
    name: str, m: TransferMatrix, types: dict[str, str], threshold: float = 0.0
) -> None:
    if st.button(f"Prepare a PNG of this {name}", key=f"png-{name}"):
        st.download_button(
            f"Download {name}.png",
            xf.png(name, m, types, threshold),
            file_name=f"{name}.png",
            mime="image/png",
            key=f"dl-{name}",
        )


def card_tab(bank: xd.Bank) -> None:
    code = st.selectbox("Language", bank.langs, key="card")
    c = xd.card(bank, code)
    st.subheader(f"{c['code']} — {c['name']}")
    cols = st.columns(4)
    cols[0].metric("type", c["type"])
    cols[1].metric("donation D", f"{c['donation']:.1f}")
    cols[2].metric("recipience R", f"{c['recipience']:.1f}")
    cols[3].metric("monolingual MRR", "—" if c["mono_mrr"] is None else f"{c['mono_mrr']:.3f}")
    st.write(
        f"**Family** {c['family']} · **Script** {c['script']} · "
        + " · ".join(f"**{k}** {v}" for k, v in c["features"].items())
    )
    left, right = st.columns(2)
    left.markdown("**Best donors to it** (F(s→" + code + "))")
    left.table(
        {
            "source": [s for s, _ in c["best_donors"]],
            "F (%)": [round(v, 2) for _, v in c["best_donors"]],
        }
    )
    right.markdown("**Best recipients from it** (F(" + code + "→t))")
    right.table(
        {
            "target": [t for t, _ in c["best_recipients"]],
            "F (%)": [round(v, 2) for _, v in c["best_recipients"]],
        }
    )


def truth_tab(bank: xd.Bank, chosen: list[str]) -> None:
    found = xd.truth_comparison(bank, chosen)
    if found is None:
        st.info("Fewer than two of the shown languages have a planted truth.")
        return
    table, comparison = found
    label = BASELINE_NAMES[bank.baseline]
    c = comparison[bank.baseline]
    failures = comparison["recovery_failures"]
    st.markdown(
        f"This world is synthetic: how much each language should help each other one is "
        f"known (`metrics/truth.csv`). Over the {comparison['pairs']} shown pairs, "
        f"Spearman ρ between the truth and {label} is **{c['spearman']:.2f}** "
        f"(p = {c['p_value']:.2g}; at most {comparison['ceiling']:.2f} with the truth's "
        "ties). Recovery check: "
        + ("**passes**." if not failures else "**fails**: " + "; ".join(failures) + ".")
    )
    slope = slope_sentence(comparison["lexical_slope"], label)
    if slope:
        st.markdown(
            slope + " Spearman says whether the order is right; this, whether the "
            "effect of shared words is large against the noise of a cell."
        )
    st.plotly_chart(xf.truth_view(table, bank.baseline, label), width="stretch", key="truth")
    st.dataframe(
        table.rename(columns={bank.baseline: label}).round(2), hide_index=True, width="stretch"
    )


def main() -> None:
    st.set_page_config(page_title="Linguistic Blood Bank explorer", layout="wide")
    st.title("The Linguistic Blood Bank")
    args = parse_args(sys.argv[1:])
    upload = st.sidebar.file_uploader("Open another matrix (CSV)", type="csv")
    try:
        bank = load(
            args.outputs,
            args.matrix,
            args.mono,
            args.kind,
            args.baseline,
            args.transpose,
            upload.getvalue() if upload else None,
        )
    except (xd.ExplorerError, typology.TypologyUnavailable) as e:
        st.error(f"Cannot open the transfer matrix: {e}")
        st.stop()
    st.caption(f"Source: {bank.origin}")
    chosen, threshold, collapse = sidebar_filters(bank)
    if len(chosen) < 2:
        st.warning("The filters leave fewer than two languages: widen them.")
        st.stop()
    m, colours, hovers, types, grouped = view(bank, chosen, collapse)
    st.markdown(
        f"**Showing {len(chosen)} of {len(bank.langs)} languages · "
        f"{len(xd.edges(m, threshold))} edges with |F| ≥ {threshold:g}%**"
    )
    names = ["Graph", "Heatmap", "Donors and recipients", "Language card"]
    if bank.truth is not None:  # a synthetic world
        names.append("Planted truth")
    graph, heat, plane, card, *truth = st.tabs(names)
    with graph:
        graph_tab(m, colours, hovers, threshold, types)
    with heat:
        heatmap_tab(m, types, grouped)
    with plane:
        plane_tab(m, types) if not grouped else st.info("Not defined for collapsed groups.")
    with card:
        card_tab(bank)
    if truth:
        with truth[0]:
            truth_tab(bank, chosen)


main()
