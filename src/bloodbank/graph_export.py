"""The transfer graph for other tools: GraphML, node-link JSON, and tidy CSVs.

The CSVs also feed `dvc plots show` (scatter templates over languages and pairs).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import networkx as nx

from bloodbank.graph import BIN_NAMES, pairs_of, transfer_bin
from bloodbank.io import atomic_path
from bloodbank.transfer_matrix import TransferMatrix


def build_graph(m: TransferMatrix, analysis: dict) -> nx.DiGraph:
    """Nodes carry name, script, family, type, D, R (and mono MRR); edges carry F."""
    graph = nx.DiGraph(kind="bilingual transfer graph", edge_weight="F(s->t) in percent")
    for code in m.langs:
        attrs = {k: v for k, v in analysis["languages"][code].items() if v is not None}
        graph.add_node(code, **attrs)
    for p in pairs_of(m):
        graph.add_edge(p.source, p.target, f=round(p.f, 4), weight=round(p.f, 4))
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


def _csv(rows: list[list]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def write_tables(m: TransferMatrix, analysis: dict, out_dir: Path) -> None:
    """languages.csv (one row per language) and pairs.csv (one row per ordered pair)."""
    info = analysis["languages"]
    rows = [["language", "donation", "recipience", "type", "script", "family", "mono_mrr"]]
    rows += [[c, info[c]["donation"], info[c]["recipience"], info[c]["type"],
              info[c]["script"], info[c]["family"], info[c].get("mono_mrr", "")]
             for c in m.langs]
    _write_text(out_dir / "languages.csv", _csv(rows))
    borders = tuple(analysis["bins"]["borders"].values())
    rows = [["source", "target", "f", "bin", "same_script", "same_family", "source_mono_mrr",
             "target_mono_mrr"]]
    rows += [[p.source, p.target, round(p.f, 4), BIN_NAMES[transfer_bin(p.f, borders)],
              int(p.same_script), int(p.same_family),
              info[p.source].get("mono_mrr", ""), info[p.target].get("mono_mrr", "")]
             for p in pairs_of(m)]
    _write_text(out_dir / "pairs.csv", _csv(rows))


def export_all(m: TransferMatrix, analysis: dict, out_dir: Path) -> None:
    graph = build_graph(m, analysis)
    write_graphml(graph, out_dir / "transfer_graph.graphml")
    write_node_link(graph, out_dir / "transfer_graph.json")
    write_tables(m, analysis, out_dir)
