"""mono@<lang>: a BERT masked LM trained from scratch on one language, scored by MRR.

Writes models/mono/<lang>/ (safetensors + tokenizer, loadable with
AutoModelForMaskedLM.from_pretrained; with `replicates` > 1 the other replicates in
replicate-<r>/ inside it), metrics/mono/<lang>.json (results, read by `scores`) and
metrics/timings/mono/<lang>.json (seconds and throughput, read by nobody).
"""

from __future__ import annotations

from bloodbank.core import paths
from bloodbank.core.config import load_params
from bloodbank.core.io import write_json
from bloodbank.core.stagekit import parse_language, run_main
from bloodbank.tracking.runs import stage_run


def main(argv: list[str] | None = None) -> None:
    lang = parse_language(argv, __doc__)
    params = load_params()
    logged = {k: getattr(params, k).model_dump() for k in ("model", "train", "eval")}
    with stage_run("mono", params.tracking, params.seed, logged, {"language": lang}) as run:
        # imported here, not above: MLflow's worker starts up while torch loads
        from bloodbank.mlm.runs import Recipe, train_mono

        recipe = Recipe(params.train, params.eval, params.seed, params.replicates)
        out = train_mono(
            lang,
            params.model,
            recipe,
            paths.TOKENIZER,
            paths.tokens(lang),
            paths.mono_model(lang),
            paths.resume("mono", lang),
            run.log_metrics,
        )
        write_json(paths.mono_metrics(lang), out.results)
        write_json(paths.timings("mono", lang), out.timing)
        run.log_metrics({**out.results, "timing": out.timing})
    print(
        f"mono {lang}: MRR {out.results['mrr']:.4f} "
        f"[{out.results['mrr_ci95'][0]:.4f}, {out.results['mrr_ci95'][1]:.4f}], "
        f"{out.timing['tokens_per_second']:,.0f} tokens/s"
    )


if __name__ == "__main__":
    run_main(main)
