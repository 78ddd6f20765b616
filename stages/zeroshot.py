"""zeroshot@<src>: the mono model of src, untouched, scored on every studied language
(those of metrics/tokens.csv, the token index).

Zero-shot fit is evidence about the pair src→t that needs no pair training: how well
M_src already predicts t's masked tokens, beside t's own model (src's own entry is the
diagonal). The estimate stage reads it as a covariate of unmeasured cells. Each language
is scored on the first `proxies.sentences` of its test split, under the masks every
model scored on it sees. Writes metrics/zeroshot/<src>.json (MRR by target).
"""

from __future__ import annotations

import time

from bloodbank.core import paths
from bloodbank.core.io import write_json
from bloodbank.core.settings import load_checked
from bloodbank.core.stagekit import parse_language, run_main
from bloodbank.data.token_index import check_tokens, read_index
from bloodbank.tracking.runs import stage_run


def main(argv: list[str] | None = None) -> None:
    src = parse_language(argv, __doc__)
    params = load_checked("zeroshot")
    # the studied languages, as the token index (this stage's dependency) lists them: no
    # `studied` param, whose list in every zeroshot stage's lock entry would make dvc.lock
    # grow with the square of the languages
    index = read_index(paths.TOKEN_INDEX)
    targets = sorted(index["language"])
    logged = {"proxies": params.proxies.model_dump(), "eval": params.eval.model_dump()}
    with stage_run("zeroshot", params, logged=logged, tags={"language": src}) as run:
        # imported here, not above: run_main has set the stage environment first
        from bloodbank.mlm.runs import Recipe, zero_shot

        started = time.perf_counter()
        recipe = Recipe(params.train, params.eval, params.seed, params.replicates, params.runtime)
        scores = zero_shot(
            src,
            targets,
            recipe,
            source_model=paths.mono_model(src),
            tokenizer_dir=paths.TOKENIZER,
            tokens_dir=lambda tgt: check_tokens(index, tgt, paths.tokens(tgt), ("test",)),
            sentences=params.proxies.sentences,
            passes=params.proxies.passes,
        )
        write_json(paths.zeroshot_metrics(src), {"source": src, "targets": scores})
        seconds = time.perf_counter() - started
        write_json(paths.timings("zeroshot", src), {"seconds": seconds, "scored": len(targets)})
        run.log_metrics({t: {"mrr": s["mrr"]} for t, s in scores.items()})
    best = max((t for t in targets if t != src), key=lambda t: scores[t]["mrr"], default=None)
    also = f"; fits {best} best (MRR {scores[best]['mrr']:.4f})" if best else ""
    print(f"zeroshot {src}: {len(targets)} languages scored in {seconds:.1f} s{also}")


if __name__ == "__main__":
    run_main(main)
