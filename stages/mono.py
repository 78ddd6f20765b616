"""mono@<lang>: a BERT masked LM trained from scratch on one language, scored by MRR.

Writes models/mono/<lang>/ (safetensors + tokenizer, loadable with
AutoModelForMaskedLM.from_pretrained; with `replicates` > 1 the other replicates in
replicate-<r>/ inside it) and metrics/mono/<lang>.json (results, read by `scores`).
Where packs run batched (a GPU's default), the language trains with its group
(metrics/packs/<lang>.json): the group's first stage trains them all and stashes the
others' models, which their own stages then take (bloodbank.mlm.monopacks).
Seconds and throughput go to MLflow and to logs/timings/ (untracked).
"""

from __future__ import annotations

from bloodbank.core import paths
from bloodbank.core.io import write_json
from bloodbank.core.settings import load_checked, settings_file
from bloodbank.core.stagekit import parse_language, run_main
from bloodbank.data.token_index import check_tokens, read_index
from bloodbank.mlm.monopacks import Stash, key_maker, read_pack
from bloodbank.tracking.runs import stage_run


def main(argv: list[str] | None = None) -> None:
    lang = parse_language(argv, __doc__)
    params = load_checked("mono")
    pack = read_pack(paths.pack_file(lang), lang)
    index = read_index(paths.TOKEN_INDEX)  # this stage's dependency for its group's arrays
    tests = dict(zip(index["language"], index["test_sha256"], strict=True))
    key = key_maker(
        pack, tests, settings=settings_file(paths.SETTINGS, "mono"), tokenizer=paths.TOKENIZER
    )
    logged = {k: getattr(params, k).model_dump() for k in ("model", "train", "eval")}
    tags = {"language": lang, "group": ",".join(pack.members)}
    with stage_run("mono", params, logged=logged, tags=tags) as run:
        # imported here, not above: run_main has set the stage environment (offline flags,
        # pinned CPU kernels), which these libraries read as they load
        from bloodbank.mlm.runs import Recipe, train_mono_packed

        out, how = train_mono_packed(
            lang,
            pack.members,
            params.model,
            Recipe(params.train, params.eval, params.seed, params.replicates, params.runtime),
            stash=Stash(paths.PACKED),
            key=key,
            tokenizer_dir=paths.TOKENIZER,
            tokens_dir=lambda m: check_tokens(index, m, paths.tokens(m)),
            out=paths.mono_model(lang),
            resume_dir=lambda m: paths.resume("mono", m),
            log=run.log_metrics,
        )
        write_json(paths.mono_metrics(lang), out.results)
        write_json(paths.timings("mono", lang), out.timing)
        run.log_metrics({**out.results, "timing": out.timing})
        run.set_tags({"trained": how})
    print(
        f"mono {lang} ({how}): MRR {out.results['mrr']:.4f} "
        f"[{out.results['mrr_ci95'][0]:.4f}, {out.results['mrr_ci95'][1]:.4f}], "
        f"{out.timing['tokens_per_second']:,.0f} tokens/s"
    )


if __name__ == "__main__":
    run_main(main)
