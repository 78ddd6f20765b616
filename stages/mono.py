"""mono@<lang>: a BERT masked LM trained from scratch on one language, scored by MRR.

Writes models/mono/<lang>/ (safetensors + tokenizer, loadable with
AutoModelForMaskedLM.from_pretrained) and metrics/mono/<lang>.json.
"""

from __future__ import annotations

from bloodbank import paths
from bloodbank.config import load_params
from bloodbank.io import write_json
from bloodbank.stagekit import parse_language, run_main
from bloodbank.tracking import stage_run


def main(argv: list[str] | None = None) -> None:
    lang = parse_language(argv, __doc__)
    params = load_params()
    logged = {k: getattr(params, k).model_dump() for k in ("model", "train", "eval")}
    with stage_run("mono", params.tracking, params.seed, logged, {"language": lang}) as run:
        # imported here, not above: MLflow's worker starts up while torch loads
        from bloodbank.pretrain import run_mono

        metrics = run_mono(lang, params, run.log_metrics)
        write_json(paths.mono_metrics(lang), metrics)
        run.log_metrics(metrics)
    print(f"mono {lang}: MRR {metrics['mrr']:.4f} "
          f"[{metrics['mrr_ci95'][0]:.4f}, {metrics['mrr_ci95'][1]:.4f}], "
          f"{metrics['train']['tokens_per_second']:,.0f} tokens/s")


if __name__ == "__main__":
    run_main(main)
