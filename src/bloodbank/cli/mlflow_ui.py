"""`lbb mlflow`: the MLflow UI on this repository's store, opening on the runs table.

MLflow 3's UI opens an experiment on the GenAI overview (traces) unless the browser is
switched to "Model training"; it reads that switch from the page's address
(``workflowType=machine_learning``) or from what the browser remembers. So this command
serves the same UI as ``mlflow ui`` and prints the address that opens the project's
experiment on its runs: every stage run, its params and its metrics.
"""

from __future__ import annotations

import argparse
import os
import sys

from bloodbank.cli.types import existing_store
from bloodbank.core.config import load_params

RUNS_VIEW = "runs?workflowType=machine_learning"


def runs_url(host: str, port: int, experiment_id: str) -> str:
    """The address that opens an experiment's runs table in MLflow's UI."""
    return f"http://{host}:{port}/#/experiments/{experiment_id}/{RUNS_VIEW}"


def ui_command(uri: str, host: str, port: int) -> list[str]:
    return [
        sys.executable, "-m", "mlflow", "ui",
        "--backend-store-uri", uri, "--host", host, "--port", str(port),
    ]  # fmt: skip


def cmd_mlflow(args: argparse.Namespace) -> int:
    """Find the experiment, print its address, then become the MLflow server (``exec``)."""
    params = load_params(args.params)
    uri = existing_store()
    from mlflow import MlflowClient

    name = params.runtime.tracking.experiment
    experiment = MlflowClient(uri).get_experiment_by_name(name)
    if experiment is None:
        print(f"error: no experiment {name!r} in {uri}; run `dvc repro` first", file=sys.stderr)
        return 1
    url = runs_url(args.host, args.port, experiment.experiment_id)
    print(f"MLflow UI: {url}\n(the stage runs of {name!r}; Ctrl-C stops it)", flush=True)
    cmd = ui_command(uri, args.host, args.port)
    os.execv(cmd[0], cmd)
    return 0  # not reached


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "mlflow",
        help="the MLflow UI on this repository's runs",
        description="Serve MLflow's UI on the repository's store (mlflow.db, or "
        "MLFLOW_TRACKING_URI) and print the address that opens the project's experiment "
        "on its runs table. Plain `mlflow ui` serves the same store; its page opens on the "
        "GenAI view until you switch it to 'Model training' once.",
    )
    p.add_argument("--port", type=int, default=5000, help="default: %(default)s")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default: %(default)s, this machine only)",
    )
    p.add_argument("--params", default="params.yaml", help="params file (default: %(default)s)")
    p.set_defaults(func=cmd_mlflow)
