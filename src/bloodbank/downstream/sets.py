"""Choosing pretraining sets from donation and recipience (study §6.1, Table 2).

Rh and Rl are the most and least recipient languages. The donor sets (Most, Least and
Random Donating) are drawn from the other languages, so every set is disjoint from
C = Rh ∪ Rl. A diversity rule keeps a donor set from being one family or one script.
Every language gets a reason: why it was chosen, or why it was skipped.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from pathlib import Path

from bloodbank.core import languages
from bloodbank.core.config import DownstreamConfig
from bloodbank.core.errors import BloodbankError
from bloodbank.core.io import read_json

CONFIGURATIONS: tuple[str, ...] = ("most", "least", "random", "control")
PAPER_SETS: dict[str, list[str]] = {  # Table 2 of the study
    "most": ["ja", "te", "fi", "ru"],
    "least": ["ne", "my", "hy", "en"],
    "random": ["he", "ga", "fr", "sv"],
    "most_recipient": ["hi", "de", "hu"],
    "least_recipient": ["ar", "el", "ta"],
}


class SelectionError(BloodbankError, ValueError):
    """The sets cannot be chosen as asked (too few languages, unknown ones)."""


@dataclass
class Selection:
    sets: dict[str, list[str]]
    reasons: dict[str, list[str]] = field(default_factory=dict)

    def note(self, code: str, reason: str) -> None:
        self.reasons.setdefault(code, []).append(reason)

    def configuration(self, name: str) -> list[str]:
        """Pretraining languages: donors ∪ Rh ∪ Rl; the control has no donors."""
        donors = [] if name == "control" else self.sets[name]
        return [*donors, *self.sets["most_recipient"], *self.sets["least_recipient"]]

    def downstream_languages(self) -> list[str]:
        """C = Rh ∪ Rl: the languages finetuned on and evaluated on."""
        return [*self.sets["most_recipient"], *self.sets["least_recipient"]]

    def as_dict(self) -> dict:
        return {
            "sets": self.sets,
            "reasons": self.reasons,
            "configurations": {c: self.configuration(c) for c in CONFIGURATIONS},
            "downstream_languages": self.downstream_languages(),
        }


def load_selection(path: Path) -> Selection:
    """The sets the ``select`` stage wrote (metrics/sets.json)."""
    if not path.is_file():
        raise SelectionError(f"{path}: not found; run `dvc repro select` first")
    data = read_json(path)
    return Selection(data["sets"], data["reasons"])


def clashes(a: str, b: str, rule: str) -> bool:
    """Whether two donors may not share a set under the diversity ``rule``."""
    fam, script = languages.shares_family(a, b), languages.shares_script(a, b)
    return {"none": False, "family": fam, "script": script, "family_and_script": fam and script}[
        rule
    ]


def pick(candidates: list[str], k: int, rule: str, label: str, sel: Selection) -> list[str]:
    """The first ``k`` candidates that keep the set diverse, with a reason for each."""
    chosen: list[str] = []
    for code in candidates:
        if len(chosen) == k:
            break
        twin = next((c for c in chosen if clashes(code, c, rule)), None)
        if twin:
            sel.note(code, f"skipped for {label}: shares {rule.replace('_', ' ')} with {twin}")
            continue
        chosen.append(code)
    if len(chosen) < k:
        raise SelectionError(
            f"{label}: only {len(chosen)} of {k} languages satisfy the "
            f"diversity rule {rule!r} among {', '.join(candidates) or 'none'};"
            " lower downstream.sizes.donors or relax downstream.diversity"
        )
    return chosen


def select(
    studied: list[str],
    donation: dict[str, float],
    recipience: dict[str, float],
    cfg: DownstreamConfig,
) -> Selection:
    sizes, sel = cfg.sizes, Selection({})
    explicit = PAPER_SETS if cfg.preset == "paper" else {}
    explicit = {**explicit, **{k: v for k, v in cfg.explicit.model_dump().items() if v}}
    for name, codes in explicit.items():
        unknown = [c for c in codes if c not in studied]
        if unknown:
            raise SelectionError(
                f"downstream set {name} names {', '.join(unknown)}, which "
                "are not studied languages (no donation or recipience)"
            )
    by_r = sorted(studied, key=lambda c: (-recipience[c], c))
    _recipients(by_r, explicit, sizes, sel)
    c_set = set(sel.sets["most_recipient"]) | set(sel.sets["least_recipient"])
    pool = sorted((c for c in studied if c not in c_set), key=lambda c: (-donation[c], c))
    for code in c_set:
        sel.note(code, "not a donor: it is in C = Rh ∪ Rl")
    _donors(pool, explicit, cfg, sel)
    return sel


def _recipients(by_r: list[str], explicit: dict, sizes, sel: Selection) -> None:
    rh = explicit.get("most_recipient") or by_r[: sizes.most_recipient]
    rest = [c for c in by_r if c not in rh]
    rl = explicit.get("least_recipient") or rest[::-1][: sizes.least_recipient][::-1]
    if set(rh) & set(rl) or len(rh) + len(rl) > len(by_r):
        raise SelectionError(
            f"Rh {rh} and Rl {rl} overlap or need more languages than the {len(by_r)} studied"
        )
    sel.sets["most_recipient"], sel.sets["least_recipient"] = list(rh), list(rl)
    for code in rh:
        sel.note(
            code,
            "Rh: "
            + (
                "given"
                if "most_recipient" in explicit
                else f"recipience rank {by_r.index(code) + 1} of {len(by_r)}"
            ),
        )
    for code in rl:
        sel.note(
            code,
            "Rl: "
            + (
                "given"
                if "least_recipient" in explicit
                else f"recipience rank {by_r.index(code) + 1} of {len(by_r)}"
            ),
        )


def _donors(pool: list[str], explicit: dict, cfg: DownstreamConfig, sel: Selection) -> None:
    k, rule = cfg.sizes.donors, cfg.diversity
    most = explicit.get("most") or pick(pool, k, rule, "Most Donating", sel)
    least_pool = [c for c in reversed(pool) if c not in most]
    if len(least_pool) < k and "least" not in explicit:
        sel.note(
            "(least set)",
            f"only {len(least_pool)} languages are not Most Donating; "
            "drawn from all donor candidates instead",
        )
        least_pool = list(reversed(pool))
    least = explicit.get("least") or pick(least_pool, k, rule, "Least Donating", sel)
    for name, members in (("most", most), ("least", least)):
        for code in members:
            sel.note(
                code,
                f"{name} donating: "
                + (
                    "given"
                    if name in explicit
                    else f"donation rank {pool.index(code) + 1} of {len(pool)} candidates"
                ),
            )
    if "random" in explicit:
        rand = explicit["random"]
    else:
        rest = [c for c in pool if c not in most and c not in least]
        if len(rest) < k:
            sel.note(
                "(random set)",
                f"only {len(rest)} languages are neither Most nor Least "
                "Donating; drawn from all donor candidates instead",
            )
            rest = list(pool)
        shuffled = list(rest)
        random.Random(f"random-donors:{cfg.select_seed}").shuffle(shuffled)
        rand = pick(shuffled, k, rule, "Random", sel)
    for code in rand:
        sel.note(
            code,
            "random donating"
            + (": given" if "random" in explicit else f" (seed {cfg.select_seed})"),
        )
    sel.sets.update(most=list(most), least=list(least), random=list(rand))


def recipients_count(cfg: DownstreamConfig) -> int:
    """|C| = |Rh| + |Rl|, as the parameters fix it before any selection runs."""
    sets = {
        **(PAPER_SETS if cfg.preset == "paper" else {}),
        **{k: v for k, v in cfg.explicit.model_dump().items() if v},
    }
    rh = len(sets.get("most_recipient") or []) or cfg.sizes.most_recipient
    rl = len(sets.get("least_recipient") or []) or cfg.sizes.least_recipient
    return rh + rl


def pretrain_chars_per_language(cfg: DownstreamConfig) -> int:
    """The largest share any configuration needs: the control spreads the total over C."""
    return math.ceil(cfg.total_chars / recipients_count(cfg))
