"""Balanced samples: the same number of characters of consecutive sentences.

Two streaming passes over a language's extracted text: the first counts, the
second copies a block of consecutive sentences that starts at a seeded random
character offset. The block's first ``chars`` characters are the training
sample and the next ``test_chars`` the held-out test split, so the two are
disjoint and both consecutive. Memory stays constant whatever the corpus size.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from bloodbank.core.config import SampleConfig
from bloodbank.core.errors import BloodbankError
from bloodbank.core.io import atomic_path


class ShortLanguageError(BloodbankError, ValueError):
    pass


@dataclass(frozen=True)
class CorpusCount:
    sentences: int
    chars: int
    max_sentence_chars: int


@dataclass(frozen=True)
class SamplePlan:
    start_char: int  # first sentence taken is the first starting at or after this offset
    train_chars: int  # targets: a split takes sentences until it reaches its target
    test_chars: int
    short: bool  # the corpus had less than requested and allow_short let it through

    def as_dict(self) -> dict:
        return asdict(self)


def count_corpus(sentences: Iterable[str]) -> CorpusCount:
    n = chars = longest = 0
    for s in sentences:
        n += 1
        chars += len(s)
        longest = max(longest, len(s))
    return CorpusCount(n, chars, longest)


def plan_sample(
    count: CorpusCount,
    chars: int,
    test_chars: int,
    rng: random.Random | None,
    allow_short: bool = False,
    name: str = "corpus",
) -> SamplePlan:
    """Choose where the block starts (at 0 without ``rng``), leaving room for the
    sentences that overshoot.

    The first sentence may start up to one sentence after ``start_char``, and each
    split may end up to one sentence past its target: three sentences of slack.
    """
    need = chars + test_chars
    slack = 3 * count.max_sentence_chars
    if count.chars < need + slack:
        if not allow_short:
            raise ShortLanguageError(
                f"{name}: has {count.chars:,} characters of sentences, but {need:,} were "
                f"requested ({chars:,} sample + {test_chars:,} test, plus {slack:,} of slack "
                "for whole sentences); set sample.allow_short: true to use what there is"
            )
        usable = max(0, count.chars - slack)
        train = usable * chars // need
        return SamplePlan(0, train, usable - train, True)
    room = count.chars - need - slack
    return SamplePlan(rng.randint(0, room) if rng else 0, chars, test_chars, False)


def take_sample(sentences: Iterable[str], plan: SamplePlan) -> Iterator[tuple[str, str]]:
    """Yield ``(split, sentence)`` for the planned block, in corpus order."""
    offset = 0
    targets = [("train", plan.train_chars), ("test", plan.test_chars)]
    split, target = targets.pop(0)
    taken = 0
    for s in sentences:
        here, offset = offset, offset + len(s)
        if here < plan.start_char:
            continue
        if taken >= target:
            if not targets:
                return
            split, target = targets.pop(0)
            taken = 0
            if target <= 0:
                return
        yield split, s
        taken += len(s)


@dataclass(frozen=True)
class SampleResult:
    corpus: CorpusCount
    plan: SamplePlan
    train_sentences: int
    train_chars: int
    test_sentences: int
    test_chars: int


def write_sample(
    sentences: Callable[[], Iterable[str]],
    train_out: Path,
    test_out: Path,
    *,
    chars: int,
    test_chars: int,
    rng: random.Random | None,
    allow_short: bool = False,
    name: str = "corpus",
) -> SampleResult:
    """Count, plan and write both splits (one sentence per line), atomically."""
    count = count_corpus(sentences())
    plan = plan_sample(count, chars, test_chars, rng, allow_short, name)
    stats = {"train": [0, 0], "test": [0, 0]}
    with (
        atomic_path(train_out) as tr,
        atomic_path(test_out) as te,
        tr.open("w", encoding="utf-8") as ftr,
        te.open("w", encoding="utf-8") as fte,
    ):
        files = {"train": ftr, "test": fte}
        for split, s in take_sample(sentences(), plan):
            files[split].write(s + "\n")
            stats[split][0] += 1
            stats[split][1] += len(s)
        if stats["train"][1] < plan.train_chars or stats["test"][1] < plan.test_chars:
            raise ShortLanguageError(f"{name}: the corpus ended before the sample was complete")
    return SampleResult(count, plan, *stats["train"], *stats["test"])


def snapshot_parts(manifest: Path) -> dict[str, set[str]] | None:
    """The page ids of each part of a streams snapshot (``sample``, ``reference``), as
    the extracted documents' ids; None for a whole dump, whose every page is in both."""
    pages = json.loads(manifest.read_text(encoding="utf-8")).get("pages")
    if not pages:
        return None
    return {name: {str(i) for i in ids} for name, ids in pages.items()}


def language_sentences(
    text_path: Path, min_chars: int, pages: set[str] | None = None
) -> Callable[[], Iterator[str]]:
    """A re-iterable stream of a language's sentences, from its extracted text; with
    ``pages``, from those documents (page ids) only: one part of a streams snapshot."""
    from bloodbank.data.extraction import iter_documents
    from bloodbank.data.segmentation import iter_sentences

    def texts() -> Iterator[str]:
        return (d.text for d in iter_documents(text_path) if pages is None or d.id in pages)

    return lambda: iter_sentences(texts(), min_chars)


def sample_language(
    code: str,
    text_path: Path,
    train_out: Path,
    test_out: Path,
    cfg: SampleConfig,
    pages: set[str] | None = None,
) -> SampleResult:
    """The sample of ``code``: from a seeded random start in its whole corpus, or, for a
    streams snapshot (``pages``, its sample part), from the part's first sentence, since
    the part itself starts at a random stream."""
    rng = random.Random(f"sample:{code}:{cfg.seed}") if pages is None else None
    return write_sample(
        language_sentences(text_path, cfg.min_sentence_chars, pages),
        train_out,
        test_out,
        chars=cfg.chars_per_language,
        test_chars=cfg.test_chars,
        rng=rng,
        allow_short=cfg.allow_short,
        name=f"{text_path} ({code})",
    )


def sample_for_pretraining(
    code: str,
    text_path: Path,
    sample: SampleConfig,
    chars: int,
    out: Path,
    pages: set[str] | None = None,
) -> int:
    """Consecutive sentences from a seeded start, ``chars`` characters at least; a
    configuration uses a prefix of it, so every configuration reads the same text. From
    a streams snapshot (``pages``: its sample part), from the part's start."""
    sentences = language_sentences(text_path, sample.min_sentence_chars, pages)
    rng = random.Random(f"pretrain-sample:{code}:{sample.seed}") if pages is None else None
    plan = plan_sample(
        count_corpus(sentences()), chars, 0, rng, sample.allow_short, f"{text_path} ({code})"
    )
    written = 0
    with atomic_path(out) as tmp, tmp.open("w", encoding="utf-8") as fh:
        for _, s in take_sample(sentences(), plan):
            fh.write(s + "\n")
            written += len(s)
    return written
