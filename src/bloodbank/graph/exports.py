"""The transfer graph for other tools: GraphML, node-link JSON, and tidy CSVs.

The CSVs also feed `dvc plots show` (scatter templates over languages and pairs).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import networkx as nx
import pandas as pd

from bloodbank.core.io import atomic_path
from bloodbank.graph.analysis import BIN_NAMES, pairs_of, transfer_bin
from bloodbank.graph.matrix_io import TransferMatrix


def build_graph(m: TransferMatrix, analysis: dict) -> nx.DiGraph:
    """Nodes carry name, script, family, type, D, R (and mono MRR); edges carry F."""
    graph = nx.DiGraph(kind="bilingual transfer graph", edge_weight="F(s->t) in percent")
    for code in m.langs:
        attrs = {k: v for k, v in analysis["languages"][code].items() if v is not None}
        graph.add_node(code, **attrs)
    estimated = m.estimated()
    index = {c: i for i, c in enumerate(m.langs)}
    for p in pairs_of(m):
        extra = {}
        if m.measured is not None:  # only a partly estimated matrix says so on every edge
            extra["measured"] = not bool(estimated[index[p.source], index[p.target]])
        graph.add_edge(p.source, p.target, f=round(p.f, 4), weight=round(p.f, 4), **extra)
    return graph


def _write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_graphml(graph: nx.DiGraph, path: Path) -> None:
    buf = io.BytesIO()
    nx.write_graphml(graph, buf)
    _write_text(path, buf.getvalue().decode("utf-8"))


def write_node_link(graph: nx.DiGraph, path: Path) -> None:
    data = nx.node_link_data(graph, edges="edges")
    _write_text(path, json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def language_table(m: TransferMatrix, analysis: dict) -> pd.DataFrame:
    """One row per language: D, R, blood type, script, family, mono MRR."""
    info = analysis["languages"]
    return pd.DataFrame(
        [
            {
                "language": c,
                "donation": info[c]["donation"],
                "recipience": info[c]["recipience"],
                "type": info[c]["type"],
                "script": info[c]["script"],
                "family": info[c]["family"],
                "mono_mrr": info[c].get("mono_mrr"),
            }
            for c in m.langs
        ]
    )


def pair_table(m: TransferMatrix, analysis: dict) -> pd.DataFrame:
    """One row per ordered pair: F, its bin, shared script and family, the mono MRRs."""
    info = analysis["languages"]
    borders = tuple(analysis["bins"]["borders"].values())
    return pd.DataFrame(
        [
            {
                "source": p.source,
                "target": p.target,
                "f": round(p.f, 4),
                "bin": BIN_NAMES[transfer_bin(p.f, borders)],
                "same_script": None if p.same_script is None else int(p.same_script),
                "same_family": None if p.same_family is None else int(p.same_family),
                "source_mono_mrr": info[p.source].get("mono_mrr"),
                "target_mono_mrr": info[p.target].get("mono_mrr"),
            }
            for p in pairs_of(m)
        ]
    )


def write_table(frame: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, lineterminator="\n")


def write_tables(m: TransferMatrix, analysis: dict, out_dir: Path) -> None:
    """languages.csv and pairs.csv: tidy tables for pandas, R, and `dvc plots`."""
    write_table(language_table(m, analysis), out_dir / "languages.csv")
    write_table(pair_table(m, analysis), out_dir / "pairs.csv")


def export_all(m: TransferMatrix, analysis: dict, out_dir: Path) -> None:
    graph = build_graph(m, analysis)
    write_graphml(graph, out_dir / "transfer_graph.graphml")
    write_node_link(graph, out_dir / "transfer_graph.json")
    write_tables(m, analysis, out_dir)
