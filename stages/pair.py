"""pair@<src>: the mono model of src, trained on each of its planned targets with the
pair recipe, and scored on that target.

The targets are metrics/plan/<src>.json's (the plan stage's), their token arrays those
that metrics/tokens.csv vouches for (the token index). One process trains them
all: start-up (imports, the tokenizer) is paid once per source, not once per pair. The
pair recipe is `train` with `pair_recipe`'s epochs and rate where they are set; the
targets train `train.pack` at a time as one packed model (each as it would alone); a
planned diagonal (t→t) is mono t trained as many more steps on t, the compute-matched
baseline. Writes models/pairs/<src>/<tgt>/ (one checkpoint per target, all renamed into
place together) and metrics/pairs/<src>.json (results by target); seconds and throughput
go to MLflow (a child run per pair) and logs/timings/. A stage stopped part-way keeps
each finished target in its resume folder, so a rerun trains only the rest.
"""

from __future__ import annotations

import shutil
from contextlib import ExitStack

from bloodbank.core import paths
from bloodbank.core.io import atomic_path, read_json, write_json
from bloodbank.core.languages import check_code
from bloodbank.core.settings import load_checked
from bloodbank.core.stagekit import StageArgumentError, parse_language, run_main
from bloodbank.data.token_index import check_tokens, read_index
from bloodbank.tracking.runs import child_run, stage_run


def planned_targets(src: str) -> list[str]:
    """src's targets, as the plan stage wrote them (the file this stage depends on)."""
    found = read_json(paths.plan_file(src))
    if found.get("source") != src:
        raise StageArgumentError(f"{paths.plan_file(src)}: the plan of {found.get('source')}")
    return [check_code(t) for t in found["targets"]]


def main(argv: list[str] | None = None) -> None:
    src = parse_language(argv, __doc__)
    params = load_checked("pair")
    targets = planned_targets(src)
    index = read_index(paths.TOKEN_INDEX)  # this stage's dependency for the targets' arrays
    train = params.pair_recipe.apply(params.train)
    logged = {"train": train.model_dump(), "eval": params.eval.model_dump()}
    tags = {"language": src, "source": src, "targets": ",".join(targets)}
    with stage_run("pair", params, logged=logged, tags=tags) as run:
        # imported here, not above: run_main has set the stage environment (offline flags,
        # pinned CPU kernels), which these libraries read as they load
        from bloodbank.mlm.runs import Recipe, train_pairs

        recipe = Recipe(train, params.eval, params.seed, params.replicates, params.runtime)
        with atomic_path(paths.pair_models(src), is_dir=True) as tmp, ExitStack() as runs:
            children = {
                tgt: runs.enter_context(
                    child_run(
                        run,
                        f"pair@{src}-{tgt}",
                        {},
                        {"pair": f"{src}-{tgt}", "source": src, "target": tgt},
                    )
                )
                for tgt in targets
            }
            results = {}

            def written(tgt: str, out) -> None:  # as each target's checkpoint is in place
                children[tgt].log_metrics({**out.results, "timing": out.timing})
                results[tgt] = out.results
                write_json(paths.timings("pair", f"{src}-{tgt}"), out.timing)
                print(f"pair {src}->{tgt}: MRR {out.results['mrr']:.4f}")

            train_pairs(
                src,
                targets,
                recipe,
                source_model=paths.mono_model(src),
                tokenizer_dir=paths.TOKENIZER,
                tokens_dir=lambda tgt: check_tokens(index, tgt, paths.tokens(tgt)),
                out=lambda tgt: tmp / tgt,
                resume_dir=lambda tgt: paths.resume("pair", f"{src}-{tgt}"),
                log=lambda tgt: children[tgt].log_metrics,
                keep_resume=True,
                written=written,
            )
        write_json(paths.pair_metrics(src), {t: results[t] for t in targets})
        run.log_metrics({t: {"mrr": r["mrr"]} for t, r in results.items()})
    for tgt in targets:  # every target is in place: their finished states can go
        shutil.rmtree(paths.resume("pair", f"{src}-{tgt}"), ignore_errors=True)


if __name__ == "__main__":
    run_main(main)
