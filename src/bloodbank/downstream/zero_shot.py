"""Zero-shot transfer scores and the study's Tables 3 and 4 (equations 1, 2, 9–11).

``results[config][task][seed][s][t]`` is ε(M_{P,s}, t) (equation 1): the F1 of the model
pretrained on configuration P, finetuned on s and evaluated on t, for s, t in C = Rh ∪ Rl.
Means and standard deviations are over finetuning seeds (sample standard deviation).
"""

from __future__ import annotations

import statistics

import pandas as pd

Results = dict[str, dict[str, dict[str, dict[str, dict[str, float]]]]]
Z = dict[str, dict[str, float]]


def z_set(z: Z, langs: list[str]) -> float | None:
    """Z_P(D), equation 2: the mean of Z_P(l1→l2) over ordered pairs of distinct l1, l2 ∈ D."""
    values = [z[a][b] for a in langs for b in langs if a != b]
    return sum(values) / len(values) if values else None


def z_into(z: Z, sources: list[str], targets: list[str]) -> float | None:
    """Mean zero-shot score on ``targets`` from every other finetuning language in
    ``sources``: used for a set of one language, where equation 2 has no pairs."""
    values = [z[s][t] for s in sources for t in targets if s != t]
    return sum(values) / len(values) if values else None


def monolingual(z: Z, langs: list[str]) -> float:
    """Equation 11: the mean of ε(M_{P,l}, l) over l."""
    return sum(z[c][c] for c in langs) / len(langs)


def mean_std(values: list[float]) -> dict[str, float]:
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"mean": round(statistics.fmean(values), 4), "std": round(std, 4), "n": len(values)}


def set_zero_shot(z: Z, members: list[str], c: list[str]) -> tuple[float, str]:
    """Z_P(R) by equation 2 when R has two languages or more, else transfer into R."""
    within = z_set(z, members)
    if within is not None:
        return within, "equation 2 within the set"
    return z_into(z, c, members), "into the set from the other languages of C"


def tables(results: Results, rh: list[str], rl: list[str]) -> dict:
    """Table 3, Table 4, the mean zero-shot matrices and hypotheses 9 and 10."""
    c = [*rh, *rl]
    configs = list(results)
    tasks = sorted({t for cfg in results.values() for t in cfg})
    table3: dict = {}
    for p in configs:
        for task in tasks:
            runs = results[p][task].values()
            table3.setdefault(p, {})[task] = {
                "monolingual": mean_std([monolingual(z, c) for z in runs]),
                "zero_shot": mean_std([z_set(z, c) for z in runs]),
            }
    table4: dict = {}
    definition = {}
    for name, members in (("Rh", rh), ("Rl", rl)):
        for task in tasks:
            seeds = sorted(next(iter(results.values()))[task])
            zs, monos = [], []
            for seed in seeds:
                per = [set_zero_shot(results[p][task][seed], members, c) for p in configs]
                definition[name] = per[0][1]
                zs.append(statistics.fmean(v for v, _ in per))
                monos.append(
                    statistics.fmean(monolingual(results[p][task][seed], members) for p in configs)
                )
            table4.setdefault(name, {})[task] = {
                "monolingual": mean_std(monos),
                "zero_shot": mean_std(zs),
            }
    return {
        "table3": table3,
        "table4": table4,
        "table4_zero_shot": definition,
        "hypotheses": hypotheses(results, rh, rl, tasks),
        "zero_shot": mean_matrices(results),
    }


def mean_matrices(results: Results) -> dict:
    out: dict = {}
    for p, per_task in results.items():
        for task, seeds in per_task.items():
            runs = list(seeds.values())
            out.setdefault(p, {})[task] = {
                s: {t: round(statistics.fmean(z[s][t] for z in runs), 4) for t in runs[0][s]}
                for s in runs[0]
            }
    return out


def hypotheses(results: Results, rh: list[str], rl: list[str], tasks: list[str]) -> dict:
    """Equation 9 (∀P: Z_P(Rh) > Z_P(Rl)) and 10 (Z_Most(C) > Z_Random(C) > Z_Least(C)),
    on seed means, each true or false with the numbers behind it."""
    c = [*rh, *rl]
    out: dict = {"eq9": {}, "eq10": {}}
    for task in tasks:
        rows = {}
        for p, per_task in results.items():
            runs = list(per_task[task].values())
            rows[p] = {
                "Rh": round(statistics.fmean(set_zero_shot(z, rh, c)[0] for z in runs), 4),
                "Rl": round(statistics.fmean(set_zero_shot(z, rl, c)[0] for z in runs), 4),
            }
        out["eq9"][task] = {
            "holds": all(r["Rh"] > r["Rl"] for r in rows.values()),
            "per_configuration": rows,
        }
        zc = {
            p: round(statistics.fmean(z_set(z, c) for z in results[p][task].values()), 4)
            for p in ("most", "random", "least")
            if p in results
        }
        holds = len(zc) == 3 and zc["most"] > zc["random"] > zc["least"]
        out["eq10"][task] = {"holds": holds, "z_c": zc}
    return out


NAMES = {
    "most": "Most Donating",
    "random": "Random",
    "least": "Least Donating",
    "control": "Control",
    "Rh": "Most Recipient (Rh)",
    "Rl": "Least Recipient (Rl)",
}


def _cell(ms: dict) -> str:
    return f"{ms['mean']:.1f}±{ms['std']:.1f}"


def table_frame(table: dict, rows: list[str]) -> pd.DataFrame:
    """Table 3 (rows: configurations) or Table 4 (rows: Rh, Rl) as the study prints it:
    per task, average monolingual and average zero-shot F1, mean ± std over seeds."""
    tasks = sorted({task for r in rows if r in table for task in table[r]})
    columns = pd.MultiIndex.from_product(
        [[t.upper() for t in tasks], ["avg. monolingual", "avg. zero-shot"]]
    )
    data = [
        [_cell(table[r][task][part]) for task in tasks for part in ("monolingual", "zero_shot")]
        for r in rows
        if r in table
    ]
    return pd.DataFrame(data, index=[NAMES.get(r, r) for r in rows if r in table], columns=columns)


def zero_shot_frame(z: dict[str, dict[str, float]]) -> pd.DataFrame:
    """Z_P(s→t), rows finetuned on s, columns evaluated on t."""
    frame = pd.DataFrame.from_dict(z, orient="index")
    frame.index.name = "s \\ t"
    return frame


def _markdown(frame: pd.DataFrame, floatfmt: str = ".1f") -> str:
    if isinstance(frame.columns, pd.MultiIndex):
        frame = frame.copy()
        frame.columns = [" ".join(c) for c in frame.columns]
    return frame.to_markdown(floatfmt=floatfmt, colalign=("left",) + ("right",) * frame.shape[1])


def report(t: dict, sets: dict) -> str:
    """reports/tables.md."""
    lines = [
        "# Downstream zero-shot transfer: Tables 3 and 4",
        "",
        "F1 in percent, mean ± standard deviation over finetuning seeds. POS: token-level "
        "micro F1; NER: seqeval entity F1.",
        "",
        "Sets: " + "; ".join(f"{k} = {', '.join(v)}" for k, v in sets.items()),
        "",
        "## Table 3: donation",
        "",
        _markdown(table_frame(t["table3"], ["most", "random", "least", "control"])),
        "",
        "## Table 4: recipience",
        "",
        _markdown(table_frame(t["table4"], ["Rh", "Rl"])),
        "",
        "Zero-shot of a set: " + "; ".join(f"{k}: {v}" for k, v in t["table4_zero_shot"].items()),
        "",
        "## Hypotheses",
        "",
    ]
    tasks = sorted({task for row in t["table3"].values() for task in row})
    for task in tasks:
        h9, h10 = t["hypotheses"]["eq9"][task], t["hypotheses"]["eq10"][task]
        rows = ", ".join(
            f"{p}: {v['Rh']:.1f} vs {v['Rl']:.1f}" for p, v in h9["per_configuration"].items()
        )
        lines.append(
            f"- {task.upper()}, equation 9 (∀P: Z_P(Rh) > Z_P(Rl)): "
            f"**{'true' if h9['holds'] else 'false'}** ({rows})"
        )
        zc = ", ".join(f"{p} {v:.1f}" for p, v in h10["z_c"].items())
        lines.append(
            f"- {task.upper()}, equation 10 (Z_Most(C) > Z_Random(C) > Z_Least(C)): "
            f"**{'true' if h10['holds'] else 'false'}** ({zc})"
        )
    lines += ["", "## Zero-shot matrices Z_P(s→t), seed means", ""]
    for p, per_task in t["zero_shot"].items():
        for task, z in per_task.items():
            lines += [
                f"**{NAMES.get(p, p)}, {task.upper()}** (rows: finetuned on s; columns: "
                "evaluated on t)",
                "",
                _markdown(zero_shot_frame(z)),
                "",
            ]
    return "\n".join(lines) + "\n"
