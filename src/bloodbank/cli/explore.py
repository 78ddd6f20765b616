"""`lbb explore`: the interactive explorer (Streamlit, on 127.0.0.1)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from bloodbank.graph.names import KINDS


def explorer_command(args: argparse.Namespace) -> list[str]:
    """The ``streamlit run`` command line for the explorer app."""
    app = Path(__file__).parents[1] / "explorer" / "app.py"
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.address",
        args.host,
        "--server.port",
        str(args.port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--",
        "--baseline",
        args.baseline,
        "--kind",
        args.kind,
    ]
    if args.matrix:
        cmd += ["--matrix", str(args.matrix.resolve())] + (
            ["--transpose"] if args.transpose else []
        )
        if args.mono:
            cmd += ["--mono", str(args.mono.resolve())]
    else:
        cmd += ["--outputs", str(args.outputs.resolve())]
    return cmd


def cmd_explore(args: argparse.Namespace) -> int:
    """Check the inputs, then become the Streamlit server (``exec``): one process, so that
    stopping it by its PID, or with Ctrl-C, stops the server too."""
    from bloodbank.explorer import data

    if args.matrix:
        data.load_csv(args.matrix, args.mono, args.kind, args.transpose)
    else:
        data.load_outputs(args.outputs, args.baseline)
    print(f"explorer on http://{args.host}:{args.port} (Ctrl-C stops it)", flush=True)
    cmd = explorer_command(args)
    os.execv(cmd[0], cmd)
    return 0  # not reached


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "explore",
        help="interactive explorer of the transfer graph",
        description="Serve the explorer (Streamlit) on 127.0.0.1. It opens the pipeline's "
        "outputs (after `dvc repro`) or any matrix that `lbb graph --matrix` accepts.",
    )
    p.add_argument(
        "--outputs",
        type=Path,
        default=Path("."),
        metavar="DIR",
        help="repository root holding metrics/ (default: the current folder)",
    )
    p.add_argument("--matrix", type=Path, metavar="CSV", help="open this matrix instead")
    p.add_argument("--mono", type=Path, metavar="FILE", help="monolingual MRRs for --matrix")
    p.add_argument("--kind", choices=KINDS, default="auto", help="cells of --matrix")
    p.add_argument("--transpose", action="store_true", help="--matrix has targets as rows")
    p.add_argument(
        "--baseline",
        choices=["mono", "matched"],
        default="mono",
        help="which of the pipeline's matrices (default: %(default)s)",
    )
    p.add_argument("--port", type=int, default=8501, help="default: %(default)s")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default: %(default)s, this machine only; "
        "0.0.0.0 exposes it to the network)",
    )
    p.set_defaults(func=cmd_explore)
