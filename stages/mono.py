"""mono@<lang>: a BERT masked LM trained from scratch on one language, scored by MRR.

Writes models/mono/<lang>/ (safetensors + tokenizer, loadable with
AutoModelForMaskedLM.from_pretrained; with `replicates` > 1 the other replicates in
replicate-<r>/ inside it) and metrics/mono/<lang>.json (results, read by `scores`).
Seconds and throughput go to MLflow and to logs/timings/ (untracked).
"""

from __future__ import annotations

from bloodbank.core import paths
from bloodbank.core.io import write_json
from bloodbank.core.settings import load_checked
from bloodbank.core.stagekit import parse_language, run_main
from bloodbank.tracking.runs import stage_run


def main(argv: list[str] | None = None) -> None:
    lang = parse_language(argv, __doc__)
    params = load_checked("mono")
    logged = {k: getattr(params, k).model_dump() for k in ("model", "train", "eval")}
    with stage_run("mono", params, logged=logged, tags={"language": lang}) as run:
        # imported here, not above: run_main has set the stage environment (offline flags,
        # pinned CPU kernels), which these libraries read as they load
        from bloodbank.mlm.runs import Recipe, train_mono

        out = train_mono(
            lang,
            params.model,
            Recipe(params.train, params.eval, params.seed, params.replicates, params.runtime),
            tokenizer_dir=paths.TOKENIZER,
            tokens_dir=paths.tokens(lang),
            out=paths.mono_model(lang),
            resume_dir=paths.resume("mono", lang),
            log=run.log_metrics,
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
