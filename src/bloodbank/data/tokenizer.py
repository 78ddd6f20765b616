"""One shared WordPiece tokenizer over every language's sample, trained reproducibly.

The ``tokenizers`` trainer is not deterministic (tokenizers issue #1794): it
gives ids to the ``##``-continuation pieces in hash-map order while it splits
words, those ids break ties between equally frequent merges, and when the
alphabet is capped it drops equally frequent characters in hash-map order too.
Two runs on the same text can therefore learn different vocabularies.

We remove both sources instead of seeding anything: the alphabet is chosen
here (by frequency, ties by code point) and handed to the trainer whole, and
every ``##`` piece of it is registered before training, in code-point order,
so the trainer never creates one itself. After training the helper entries are
turned back into ordinary vocabulary and the model is rebuilt with only the
real special tokens.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import WordPiece
from tokenizers.trainers import WordPieceTrainer

from bloodbank.core.config import TokenizerConfig
from bloodbank.core.io import atomic_path

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
PREFIX = "##"


def _normalizer(cfg: TokenizerConfig) -> normalizers.Normalizer:
    return normalizers.BertNormalizer(
        clean_text=True,
        handle_chinese_chars=True,
        strip_accents=cfg.strip_accents,
        lowercase=cfg.lowercase,
    )


def _shell(cfg: TokenizerConfig, model: WordPiece) -> Tokenizer:
    tok = Tokenizer(model)
    tok.normalizer = _normalizer(cfg)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix=PREFIX)
    return tok


def choose_alphabet(lines: Iterable[str], cfg: TokenizerConfig) -> list[str]:
    """The ``limit_alphabet`` most frequent characters; ties broken by code point."""
    norm = _normalizer(cfg)
    counts: Counter[str] = Counter()
    for line in lines:
        counts.update(norm.normalize_str(line))
    for ws in [c for c in counts if c.isspace()]:
        del counts[ws]
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], ord(kv[0])))
    return sorted(c for c, _ in ranked[: cfg.limit_alphabet])


def train_tokenizer(
    corpus: Callable[[], Iterable[str]], cfg: TokenizerConfig, show_progress: bool = False
) -> Tokenizer:
    """Train on ``corpus()`` (an iterable of lines, read twice) and return a canonical model."""
    alphabet = choose_alphabet(corpus(), cfg)
    helpers = [PREFIX + c for c in alphabet]
    trainer = WordPieceTrainer(
        vocab_size=cfg.vocab_size,
        min_frequency=cfg.min_frequency,
        show_progress=show_progress,
        special_tokens=[*SPECIAL_TOKENS, *helpers],
        limit_alphabet=len(alphabet),
        initial_alphabet=alphabet,
        continuing_subword_prefix=PREFIX,
    )
    raw = _shell(cfg, WordPiece(unk_token="[UNK]", continuing_subword_prefix=PREFIX))
    raw.train_from_iterator(corpus(), trainer=trainer)
    return _canonical(raw, cfg)


def _canonical(raw: Tokenizer, cfg: TokenizerConfig) -> Tokenizer:
    """Rebuild with the learned vocabulary and only the real special tokens."""
    vocab = raw.get_vocab(with_added_tokens=True)
    model = WordPiece(
        vocab,
        unk_token="[UNK]",
        continuing_subword_prefix=PREFIX,
        max_input_chars_per_word=cfg.max_input_chars_per_word,
    )
    tok = _shell(cfg, model)
    tok.add_special_tokens(list(SPECIAL_TOKENS))
    cls, sep = vocab["[CLS]"], vocab["[SEP]"]
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)],
    )
    return tok


def save_tokenizer(tok: Tokenizer, out: Path, cfg: TokenizerConfig) -> Path:
    """Save in the Hugging Face layout, loadable with ``AutoTokenizer.from_pretrained``."""
    from transformers import BertTokenizerFast

    hf = BertTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        mask_token="[MASK]",
        do_lower_case=cfg.lowercase,
        strip_accents=cfg.strip_accents,
        tokenize_chinese_chars=True,
        model_max_length=512,
    )
    with atomic_path(out, is_dir=True) as tmp:
        hf.save_pretrained(str(tmp))
        # Drop the bookkeeping file whose content varies with library versions only.
        for name in ("special_tokens_map.json",):
            (tmp / name).unlink(missing_ok=True)
    return out


def load_tokenizer(path: Path) -> Tokenizer:
    return Tokenizer.from_file(str(Path(path) / "tokenizer.json"))


def iter_token_ids(tok: Tokenizer, lines: Iterable[str], batch: int = 4096) -> Iterator[list[int]]:
    """Token ids of each line (no special tokens), encoded in batches in Rust."""
    buf: list[str] = []
    for line in lines:
        buf.append(line)
        if len(buf) == batch:
            yield from (e.ids for e in tok.encode_batch(buf, add_special_tokens=False))
            buf = []
    if buf:
        yield from (e.ids for e in tok.encode_batch(buf, add_special_tokens=False))


def token_counts(tok: Tokenizer, lines: Iterable[str]) -> tuple[int, int]:
    """Total and distinct tokens of a text: the two sides of the information ratio."""
    total = 0
    seen: set[int] = set()
    for ids in iter_token_ids(tok, lines):
        total += len(ids)
        seen.update(ids)
    return total, len(seen)


def read_lines(paths: Iterable[Path]) -> Iterator[str]:
    for path in paths:
        with Path(path).open(encoding="utf-8") as fh:
            yield from (line.rstrip("\n") for line in fh)
