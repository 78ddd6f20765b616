"""stats@<lang>: is the sample balanced and representative of its full corpus?

Counts, tokens, unique tokens, the information ratio, and Earth Mover's
Distances between sample and corpus length distributions (a DVC metric). The corpus
is the whole extracted dump, or for a streams snapshot its reference part.
"""

from __future__ import annotations

from bloodbank.core import paths
from bloodbank.core.io import read_json, write_json
from bloodbank.core.settings import load_checked
from bloodbank.core.stagekit import parse_language, run_main
from bloodbank.data.sample_stats import language_report
from bloodbank.data.sampling import count_corpus, language_sentences, snapshot_parts
from bloodbank.data.tokenizer import load_tokenizer
from bloodbank.tracking.runs import stage_run


def main(argv: list[str] | None = None) -> None:
    lang = parse_language(argv, __doc__)
    params = load_checked("stats")
    meta = read_json(paths.sample_meta(lang))
    parts = snapshot_parts(paths.dump_manifest(lang, params.dump.date))
    reference = parts["reference"] if parts else None  # a streams snapshot's second part
    corpus = language_sentences(paths.text(lang), params.sample.min_sentence_chars, reference)
    counted = count_corpus(corpus()) if parts else None
    with stage_run(
        "stats", params, logged=params.stats.model_dump(), tags={"language": lang}
    ) as run:
        report = language_report(
            load_tokenizer(paths.TOKENIZER),
            corpus,
            paths.sample(lang, "train"),
            counted.sentences if counted else meta["corpus"]["sentences"],
            params.stats.reference_sentences,
        )
        report["corpus_characters"] = counted.chars if counted else meta["corpus"]["chars"]
        report["test_characters"] = meta["test_chars"]
        write_json(paths.stats(lang), report)
        run.log_metrics(report)
    emd = report["emd"]
    print(
        f"{lang}: information ratio {report['information_ratio']:.2f}; EMD words/sentence "
        f"{emd['sentence_words']:.3f}, tokens/sentence {emd['sentence_tokens']:.3f}, "
        f"chars/word {emd['word_chars']:.3f}"
    )


if __name__ == "__main__":
    run_main(main)
