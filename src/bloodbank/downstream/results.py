"""Reading the finetune results back: from the stages' metrics files, or from MLflow."""

from __future__ import annotations

from pathlib import Path

from bloodbank.core.errors import BloodbankError
from bloodbank.core.io import read_json


class ResultsError(BloodbankError, ValueError):
    """A finetune result the tables need is missing or incomplete."""


def collect(files: list[Path]) -> dict:
    """``results[config][task][seed][s][t]`` from the finetune stages' metrics: every
    one of ``files`` must exist, so that no table is built from part of the runs."""
    missing = [str(f) for f in files if not Path(f).is_file()]
    if missing:
        raise ResultsError(
            f"missing finetune results: {', '.join(missing)}; run `dvc repro finetune` first"
        )
    results: dict = {}
    for f in sorted(files):
        data = read_json(f)
        results.setdefault(data["config"], {})[data["task"]] = data["scores"]
    return results


def results_from_mlflow(tracking_uri: str, experiment: str, seed: int) -> dict:
    """The same results read from the finetune runs in MLflow: for each (configuration,
    task, seed index, source), the newest run of the given top-level seed."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri)
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        return {}
    runs = client.search_runs(
        [exp.experiment_id],
        f"tags.stage = 'finetune' AND tags.seed = '{seed}' "
        "AND tags.source != '' AND attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=50_000,
    )
    results: dict = {}
    seen = set()
    for run in runs:
        t = run.data.tags
        key = (t["config"], t["task"], t["finetune_seed"], t["source"])
        if key in seen:
            continue
        seen.add(key)
        scores = {
            k.removeprefix("test_f1."): v
            for k, v in run.data.metrics.items()
            if k.startswith("test_f1.")
        }
        (
            results.setdefault(t["config"], {})
            .setdefault(t["task"], {})
            .setdefault(t["finetune_seed"], {})
        )[t["source"]] = scores
    return results
