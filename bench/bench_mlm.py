"""Speed of this project's MLM training and MRR evaluation against the original approach.

Both sides run in this one process, on the same machine, with the study's recipe:
BERT 4 layers / 4 heads / hidden 512, vocabulary 100,000, batch 8, sentences of
at most 128 tokens, 15% masking. Sentence lengths follow a Wikipedia-like
log-normal distribution (median about 27 tokens).

Baseline (training): ``transformers.Trainer`` over a line-by-line dataset with
``DataCollatorForLanguageModeling`` and ``BertForMaskedLM``'s full-vocabulary head.
Baseline (evaluation): the original loop over the line-by-line dataset, 8 sentences
at a time in file order (the Trainer's evaluation batch), padded to the longest; the
full head at every position and, per masked token, an argsort over the vocabulary to
find the rank. Both sides score the very same masked sentences, and both MRRs are
printed: they agree unless logits tie.

Prints tokens per second for each, the ratios, and the fraction of this machine's
measured float32 matmul throughput that our trainer reaches.

    python bench/bench_mlm.py                # about 6 minutes on 2 CPU cores
    python bench/bench_mlm.py --only train   # one half; --steps 10 is quicker, noisier
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from bloodbank.core.config import ModelConfig, RuntimeConfig
from bloodbank.core.overlays import compose
from bloodbank.data.token_ids import TokenizedSplit
from bloodbank.mlm.batching import SpecialIds
from bloodbank.mlm.evaluation import evaluate, fixed_masks
from bloodbank.mlm.model import build_model
from bloodbank.mlm.trainer import native_bf16, train_mlm

VOCAB = 100_000
IDS = SpecialIds(pad=0, cls=2, sep=3, mask=4, n_special=5)
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
STUDY = compose(["paper"], Path(__file__).resolve().parents[1] / "configs")
PAPER = STUDY.model  # 4 layers, 4 heads, hidden 512, intermediate 2048


def corpus(n: int, seed: int = 0) -> TokenizedSplit:
    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.lognormal(3.3, 0.55, n).astype(int), 3, 200)
    ids = rng.integers(IDS.n_special, VOCAB, lengths.sum()).astype(np.uint32)
    return TokenizedSplit(ids, np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))


def matmul_gflops(m: int, k: int, n: int, reps: int = 5) -> float:
    """Best float32 GFLOP/s of an (m x k) @ (k x n) product, with this process's threads."""
    a, b = torch.randn(m, k), torch.randn(k, n)
    torch.mm(a, b)
    best = min(_timed(lambda: torch.mm(a, b)) for _ in range(reps))
    return 2 * m * k * n / best / 1e9


def matmul_peak(cfg: ModelConfig) -> float:
    """The fastest float32 matmul here, over the shapes the model's work is made of (the
    full-vocabulary head, the feed-forward layers) and large square ones: no part of the
    code can run its matmuls faster than this, so no "% of peak" exceeds 100%."""
    h, i = cfg.hidden_size, cfg.intermediate_size
    shapes = [(1024, h, VOCAB), (2048, h, i), (2048, i, h), (2048, 2048, 2048), (4096, 4096, 4096)]
    return max(matmul_gflops(*shape) for shape in shapes)


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def hf_tokenizer():
    from tokenizers import Tokenizer, pre_tokenizers
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(SPECIALS)}
    vocab.update({f"w{i}": i for i in range(len(SPECIALS), VOCAB)})
    tok = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="[PAD]",
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )


def baseline_train(split: TokenizedSplit, steps: int, threads: int) -> float:
    """Tokens/s of transformers.Trainer with a line-by-line dataset and the full head."""
    from transformers import DataCollatorForLanguageModeling, Trainer, TrainingArguments

    torch.set_num_threads(threads)
    rows = [
        {"input_ids": [IDS.cls, *split.sentence(i)[:126].tolist(), IDS.sep]}
        for i in range(len(split))
    ]
    model = build_model(PAPER, VOCAB, IDS.pad, seed=0)
    collator = DataCollatorForLanguageModeling(hf_tokenizer(), mlm_probability=0.15)
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            out,
            per_device_train_batch_size=8,
            max_steps=steps,
            learning_rate=5e-5,
            report_to=[],
            save_strategy="no",
            logging_strategy="no",
            disable_tqdm=True,
            seed=0,
            dataloader_num_workers=0,
            use_cpu=True,
        )
        trainer = Trainer(model=model, args=args, train_dataset=rows, data_collator=collator)
        # count the real (non-padding) tokens in the batches the Trainer will draw
        tokens = 0
        for i, batch in enumerate(trainer.get_train_dataloader()):
            if i == steps:
                break
            tokens += int(batch["attention_mask"].sum())
        trainer.train()  # warm-up, as for ours: the timed run repeats the same steps
        seconds = _timed(trainer.train)
    return tokens / seconds


def ours_train(split: TokenizedSplit, steps: int, threads: int, precision: str = "fp32") -> float:
    """Tokens/s of this project's trainer in steady state.

    A short bench sees each batch shape for the first time, and oneDNN compiles a bf16
    kernel per new shape (a one-off cost that a real run of thousands of steps, with at
    most 128 sequence lengths, amortises). So the same steps run once untimed first.
    """
    cfg = STUDY.train.model_copy(
        update={"max_steps": steps, "threads": threads, "precision": precision}
    )
    runtime = RuntimeConfig(device="cpu", checkpoint_every=10**9, log_every=10**9)
    for timed in (False, True):
        model = build_model(PAPER, VOCAB, IDS.pad, seed=0)
        with tempfile.TemporaryDirectory() as tmp:
            result = train_mlm(
                model,
                split,
                cfg,
                ids=IDS,
                vocab_size=VOCAB,
                seed=0,
                key="bench",
                resume_dir=Path(tmp),
                runtime=runtime,
                desc="ours" if timed else "ours, warm-up",
            )
    return result.tokens / result.seconds


def line_by_line(batches, batch_size: int = 8):
    """The same masked sentences as the original evaluation loop saw them: in file order,
    ``batch_size`` at a time (the Trainer's evaluation default), padded to the longest."""
    rows = {}
    for idx, inputs, attention, labels in batches:
        for r, i in enumerate(idx.tolist()):
            n = int(attention[r].sum())
            rows[i] = (inputs[r, :n], labels[r, :n])
    order = sorted(rows)
    for start in range(0, len(order), batch_size):
        chunk = [rows[i] for i in order[start : start + batch_size]]
        width = max(len(x) for x, _ in chunk)
        inputs = torch.full((len(chunk), width), IDS.pad, dtype=torch.int64)
        labels = torch.full((len(chunk), width), -100, dtype=torch.int64)
        attention = torch.zeros((len(chunk), width), dtype=torch.int64)
        for r, (x, y) in enumerate(chunk):
            inputs[r, : len(x)], labels[r, : len(y)], attention[r, : len(x)] = x, y, 1
        yield inputs, attention, labels


@torch.no_grad()
def baseline_eval(model, batches) -> tuple[float, float]:
    """Masked tokens/s and MRR with the full head and a per-token argsort over the vocabulary."""
    masked = 0
    rr = 0.0
    start = time.perf_counter()
    for inputs, attention, labels in batches:
        logits = model(input_ids=inputs, attention_mask=attention).logits  # (B, T, V)
        for b, t in (labels != -100).nonzero().tolist():
            order = torch.argsort(logits[b, t], descending=True)
            rank = int((order == labels[b, t]).nonzero()[0, 0]) + 1
            rr += 1.0 / rank
            masked += 1
    return masked / (time.perf_counter() - start), rr / masked


def ours_eval(model, batches, n: int) -> tuple[float, float]:
    start = time.perf_counter()
    result = evaluate(model, batches, n, device=torch.device("cpu"), bootstrap=0, seed=0)
    return result.masked_tokens / (time.perf_counter() - start), result.mrr


def flops_per_token(cfg: ModelConfig, masked_fraction: float = 0.15) -> float:
    """Training FLOPs per real token: 6 x encoder params, plus the head at masked tokens."""
    h, i = cfg.hidden_size, cfg.intermediate_size
    encoder = cfg.num_layers * (4 * h * h + 2 * h * i)
    head = h * h + h * VOCAB
    return 6 * encoder + 6 * head * masked_fraction


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=30, help="training steps per side")
    parser.add_argument(
        "--eval-sentences", type=int, default=512, help="held-out sentences scored by both sides"
    )
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--only", choices=["train", "eval"], help="run one half only")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    split = corpus(args.steps * 8 + 64)

    peak = matmul_peak(PAPER)
    print(
        f"matmul peak: {peak:.1f} GFLOP/s (float32, {args.threads} threads; the best of the "
        "model's own shapes and large square ones)"
    )
    if args.only != "eval":
        bench_training(split, args.steps, args.threads, peak)
    if args.only != "train":
        bench_evaluation(args.eval_sentences, peak)


def bench_training(split: TokenizedSplit, steps: int, threads: int, peak: float) -> None:
    base = baseline_train(split, steps, threads)
    native = native_bf16(torch.device("cpu"))
    for precision in ("fp32", "bf16"):
        ours = ours_train(split, steps, threads, precision)
        reached = ours * flops_per_token(PAPER) / 1e9
        note = {
            "fp32": " (the default)",
            "bf16": " (native here)" if native else " (emulated here: no AVX512-BF16/AMX)",
        }[precision]
        print(
            f"training   {precision}{note}: baseline {base:6.0f} tokens/s   ours {ours:6.0f} "
            f"tokens/s   ratio {ours / base:4.1f}x   ours at {reached:.1f} GFLOP/s = "
            f"{reached / peak:.0%} of the fp32 matmul peak"
        )


def eval_flops_per_masked_token(batches, cfg: ModelConfig) -> float:
    """The least work an exact evaluation does: the encoder over every real token, the
    head (transform + full-vocabulary decoder) at every masked one, forward only."""
    h, i = cfg.hidden_size, cfg.intermediate_size
    tokens = sum(int(attention.sum()) for _, _, attention, _ in batches)
    masked = sum(int((labels != -100).sum()) for *_, labels in batches)
    encoder = 2 * cfg.num_layers * (4 * h * h + 2 * h * i) * tokens
    return (encoder + 2 * (h * h + h * VOCAB) * masked) / masked


def bench_evaluation(n_sentences: int, peak: float) -> None:
    test = corpus(n_sentences, seed=1)
    model = build_model(PAPER, VOCAB, IDS.pad, seed=0).eval()
    batches = list(
        fixed_masks(
            test,
            128,
            IDS,
            vocab_size=VOCAB,
            batch_size=64,
            seed=0,
            language="bench",
            max_tokens=STUDY.eval.max_tokens,
        )
    )
    base_e, base_mrr = baseline_eval(model, line_by_line(batches))
    ours_e, ours_mrr = ours_eval(model, batches, len(test))
    reached = ours_e * eval_flops_per_masked_token(batches, PAPER) / 1e9
    print(
        f"evaluation baseline {base_e:8.0f} masked tokens/s   ours {ours_e:8.0f} masked "
        f"tokens/s   ratio {ours_e / base_e:5.1f}x   ours at {reached:.1f} GFLOP/s = "
        f"{reached / peak:.0%} of matmul peak (fp32)   (same masks; MRR {base_mrr:.6f} vs "
        f"{ours_mrr:.6f})"
    )


if __name__ == "__main__":
    main()
