"""What `lbb repro` would run, decided by DVC itself, and what each stage asks of Ray.

The stage graph, the order and the staleness test are DVC's own (``Repo.index.graph``,
``dvc.repo.reproduce.plan_repro``, ``Stage.changed``), never a reading of dvc.yaml. A
stage's resources follow from its kind: a training stage asks for ``train.threads``
CPUs, or for a share of a GPU where the cluster has GPUs; every other stage for 1 CPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bloodbank.core.config import Params
from bloodbank.core.paths import PIPELINES
from bloodbank.graph.design import plan as pair_plan

TRAINING = ("mono", "pair", "pretrain", "finetune")
PINNED = (*TRAINING, "zeroshot")  # stages that run models on train.threads (or a GPU share)


@dataclass(frozen=True)
class Resources:
    cpus: float
    gpus: float = 0.0

    def ray_options(self) -> dict[str, float]:
        return {"num_cpus": self.cpus, "num_gpus": self.gpus}

    def __str__(self) -> str:
        return f"{self.cpus:g} CPU" + (f" + {self.gpus:g} GPU" if self.gpus else "")


@dataclass
class Step:
    """One stage of the plan: DVC's stage object, the stages it waits for, resources."""

    stage: Any  # dvc.stage.PipelineStage
    upstream: list[Any] = field(default_factory=list)
    resources: Resources = Resources(1)
    training_chars: int = 0

    @property
    def name(self) -> str:
        return self.stage.addressing


def kind(stage_name: str) -> str:
    """``mono`` for ``mono@qaa``, ``pair`` for ``pair@qaa``."""
    return stage_name.rsplit(":", 1)[-1].split("@", 1)[0]


def resources_for(stage_name: str, threads: int, gpu_share: float) -> Resources:
    """A stage that runs models: ``gpu_share`` of a GPU (and one CPU to feed it) when
    positive, else ``threads`` CPUs, the count its results were pinned to. Others: one
    CPU."""
    if kind(stage_name) not in PINNED:
        return Resources(1)
    if gpu_share > 0:
        return Resources(1, gpu_share)
    return Resources(threads)


def training_chars(
    stage_name: str, params: Params, targets: dict[str, list[str]] | None = None
) -> int:
    """Characters a training stage reads (epochs included): the budget of a plan. A
    pair stage trains every planned target of its source (``targets``: the pair plan,
    built once by the caller; from ``params`` if not given)."""
    what = kind(stage_name)
    if what == "mono":
        return math.ceil(params.sample.chars_per_language * params.train.epochs)
    if what == "pair":
        src = stage_name.rsplit("@", 1)[-1]
        if targets is None:
            targets = pair_plan(params.studied, params.pairs)
        epochs = params.pair_recipe.apply(params.train).epochs
        return math.ceil(params.sample.chars_per_language * epochs) * len(targets.get(src, []))
    if what == "pretrain":
        return math.ceil(params.downstream.total_chars * params.train.epochs)
    return 0


def plan(
    repo: Any, targets: list[str] | None, params: Params, gpu_share: float = 0.0
) -> list[Step]:
    """Every stage ``dvc repro TARGETS`` would visit, upstream first, with resources.

    Which of them actually run is decided later, stage by stage, when its upstream has
    finished: a stage whose upstream reran but produced identical outputs is skipped,
    as ``dvc repro`` skips it.
    """
    from dvc.repo.reproduce import collect_stages, get_active_graph, plan_repro

    graph = get_active_graph(repo.index.graph)
    stages = collect_stages(repo, targets or [PIPELINES[0]])
    order = plan_repro(graph, stages)
    targets = pair_plan(params.studied, params.pairs)  # once, for every pair stage
    visited = set(order)  # a list's `in` compares stage by stage: N² at thousands of stages
    steps = []
    for stage in order:
        upstream = [s for s in graph.successors(stage) if s in visited]
        steps.append(
            Step(
                stage,
                upstream,
                resources_for(stage.addressing, params.train.threads, gpu_share),
                training_chars(stage.addressing, params, targets),
            )
        )
    return steps


def describe(steps: list[Step], stale: dict[str, bool]) -> str:
    """The plan as a table: stage, staleness now, resources; and the training budget."""
    lines = [f"{'stage':34} {'now':10} resources"]
    for step in steps:
        state = "stale" if stale[step.name] else "up to date"
        lines.append(f"{step.name:34} {state:10} {step.resources}")
    run = [s for s in steps if stale[s.name]]
    chars = sum(s.training_chars for s in run)
    trainings = sum(1 for s in run if kind(s.name) in TRAINING)
    lines.append(
        f"{len(run)} of {len(steps)} stages stale now ({trainings} trainings, "
        f"{chars:,} training characters, epochs included); stages downstream of a stale "
        "one are decided when it finishes"
    )
    return "\n".join(lines)


def repo_root(start: Path) -> Path:
    """The DVC repository holding ``start``."""
    for folder in (start, *start.parents):
        if (folder / ".dvc").is_dir():
            return folder
    raise FileNotFoundError(f"{start}: not inside a DVC repository (no .dvc folder)")
