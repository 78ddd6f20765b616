from collections import Counter

import numpy as np
import pytest
import torch
from transformers import BertForMaskedLM

from bloodbank.core.config import ModelConfig
from bloodbank.data.token_ids import TokenizedSplit
from bloodbank.mlm.batching import SpecialIds, collate, epoch_batches, eval_batches
from bloodbank.mlm.evaluation import bootstrap_ci, ranks
from bloodbank.mlm.masking import IGNORE, generator, mask_tokens
from bloodbank.mlm.model import build_model, masked_lm_loss

IDS = SpecialIds(pad=0, cls=2, sep=3, mask=4, n_special=5)
VOCAB = 300


def toy_split(n: int = 40, seed: int = 0) -> TokenizedSplit:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 30, n)
    ids = rng.integers(5, VOCAB, lengths.sum()).astype(np.uint32)
    return TokenizedSplit(ids, np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))


def test_masking_rates_and_specials():
    ids = torch.randint(5, VOCAB, (400, 100))
    maskable = torch.ones_like(ids, dtype=torch.bool)
    maskable[:, 0] = maskable[:, -1] = False
    inputs, labels = mask_tokens(
        ids, maskable, generator(1), mask_id=IDS.mask, n_special=5, vocab_size=VOCAB
    )
    chosen = labels != IGNORE
    assert not chosen[:, 0].any() and not chosen[:, -1].any()
    assert abs(chosen[:, 1:-1].float().mean().item() - 0.15) < 0.01
    assert torch.equal(labels[chosen], ids[chosen])
    as_mask = (inputs == IDS.mask) & chosen
    kept = (inputs == ids) & chosen
    randomised = chosen & ~as_mask & ~kept
    n = chosen.sum().item()
    assert abs(as_mask.sum().item() / n - 0.8) < 0.02
    assert abs(kept.sum().item() / n - 0.1) < 0.02  # includes random draws equal to the input
    assert abs(randomised.sum().item() / n - 0.1) < 0.02
    assert (inputs[randomised] >= 5).all()  # random replacements are never special tokens
    assert torch.equal(inputs[~chosen], ids[~chosen])


def test_masks_are_a_function_of_the_seed():
    ids = torch.randint(5, VOCAB, (8, 20))
    maskable = torch.ones_like(ids, dtype=torch.bool)
    a = mask_tokens(
        ids, maskable, generator("eval", "qaa", 0, 3), mask_id=4, n_special=5, vocab_size=VOCAB
    )
    b = mask_tokens(
        ids, maskable, generator("eval", "qaa", 0, 3), mask_id=4, n_special=5, vocab_size=VOCAB
    )
    c = mask_tokens(
        ids, maskable, generator("eval", "qaa", 1, 3), mask_id=4, n_special=5, vocab_size=VOCAB
    )
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and not torch.equal(a[1], c[1])


def test_ranks_match_brute_force_argsort():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(50, 1000, generator=gen)
    targets = torch.randint(0, 1000, (50,), generator=gen)
    brute = [
        1 + int(np.where(np.argsort(-row.numpy(), kind="stable") == t)[0][0])
        for row, t in zip(logits, targets.tolist(), strict=True)
    ]
    assert ranks(logits, targets).tolist() == brute


def test_ties_count_half():
    logits = torch.tensor([[1.0, 3.0, 3.0, 3.0, 0.0], [5.0, 5.0, 1.0, 1.0, 1.0]])
    # row 0: target 1 ties with two others, nothing above: ranks 1..3 -> mid-rank 2
    # row 1: target 0 ties with one other: mid-rank 1.5
    assert ranks(logits, torch.tensor([1, 0])).tolist() == [2.0, 1.5]


def test_bootstrap_interval_contains_the_mrr():
    rng = np.random.default_rng(0)
    counts = rng.integers(1, 6, 300)
    rr = counts * rng.uniform(0.1, 0.9, 300)
    lo, hi = bootstrap_ci(rr, counts, 500, seed=0)
    assert lo < rr.sum() / counts.sum() < hi and hi - lo < 0.1
    assert bootstrap_ci(rr, counts, 500, seed=0) == (lo, hi)


def test_masked_only_loss_equals_the_standard_head():
    cfg = ModelConfig(hidden_size=64, num_layers=2, num_heads=4, intermediate_size=128)
    model = build_model(cfg, VOCAB, 0, seed=0).eval()
    split = toy_split()
    input_ids, attention, maskable = collate(split, np.arange(8), 128, IDS)
    inputs, labels = mask_tokens(
        input_ids, maskable, generator(5), mask_id=IDS.mask, n_special=5, vocab_size=VOCAB
    )
    ours = masked_lm_loss(model, inputs, attention, labels)
    standard = BertForMaskedLM.forward(
        model, input_ids=inputs, attention_mask=attention, labels=labels
    ).loss
    assert abs(ours.item() - standard.item()) < 1e-5
    # and the gradients agree too
    ours.backward()
    g1 = model.bert.embeddings.word_embeddings.weight.grad.clone()
    model.zero_grad()
    model(input_ids=inputs, attention_mask=attention, labels=labels).loss.backward()
    g2 = model.bert.embeddings.word_embeddings.weight.grad
    assert torch.allclose(g1, g2, atol=1e-6)


def test_collate_pads_only_to_the_batch_and_truncates():
    split = toy_split()
    idx = np.array([0, 1, 2])
    input_ids, attention, maskable = collate(split, idx, 10, IDS)
    longest = min(max(len(split.sentence(i)) for i in idx), 8)
    assert input_ids.shape == (3, longest + 2)
    for row, i in enumerate(idx):
        n = min(len(split.sentence(i)), 8)
        assert input_ids[row, 0] == IDS.cls and input_ids[row, n + 1] == IDS.sep
        assert input_ids[row, 1 : n + 1].tolist() == split.sentence(i)[:n].tolist()
        assert attention[row].sum() == n + 2 and maskable[row].sum() == n


def test_batches_cover_every_sentence_once():
    lengths = toy_split(1000).lengths()
    for batches in (epoch_batches(lengths, 8, 0, 0), eval_batches(lengths, 64)):
        flat = np.concatenate(batches)
        assert sorted(flat.tolist()) == list(range(1000))
    a, b = epoch_batches(lengths, 8, 0, 0), epoch_batches(lengths, 8, 0, 1)
    assert not all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    # grouping by length keeps padding low
    pad = sum((lengths[x].max() - lengths[x]).sum() for x in a) / lengths.sum()
    assert pad < 0.05


@pytest.mark.parametrize("heads", [3])
def test_model_config_rejects_bad_heads(heads):
    with pytest.raises(ValueError, match="divisible"):
        ModelConfig(hidden_size=64, num_heads=heads)


def test_evaluation_masks_do_not_depend_on_batching():
    from bloodbank.mlm.evaluation import fixed_masks

    split = toy_split(50)

    def by_sentence(batch_size, max_tokens):
        out = {}
        for idx, inputs, attention, labels in fixed_masks(
            split,
            64,
            IDS,
            vocab_size=VOCAB,
            batch_size=batch_size,
            seed=0,
            language="qaa",
            max_tokens=max_tokens,
        ):
            for row, i in enumerate(idx):
                n = int(attention[row].sum())
                out[int(i)] = (inputs[row, :n].tolist(), labels[row, :n].tolist())
        return out

    a, b = by_sentence(64, None), by_sentence(4, 64)
    assert a == b and len(a) == 50
    masked = sum(sum(t != IGNORE for t in labels) for _, labels in a.values())
    assert masked > 0


def test_drawn_masks_are_drawn_once_and_load_as_the_same_tensors(tmp_path, monkeypatch):
    """Every model scored on a language sees the same masks, whichever process drew them."""
    from bloodbank.mlm import evaluation

    split = toy_split(30)
    options = {"vocab_size": VOCAB, "batch_size": 8, "seed": 0, "language": "qaa", "passes": 2}
    fresh = list(evaluation.fixed_masks(split, 64, IDS, **options))
    drawn = evaluation.drawn_masks(split, 64, IDS, cache_dir=tmp_path, **options)
    assert len(list(tmp_path.glob("*.pt"))) == 1

    def no_draw(*args, **kwargs):
        raise AssertionError("drew the masks again")

    monkeypatch.setattr(evaluation, "fixed_masks", no_draw)
    loaded = evaluation.drawn_masks(split, 64, IDS, cache_dir=tmp_path, **options)
    for a, b, c in zip(fresh, drawn, loaded, strict=True):
        assert isinstance(c[0], np.ndarray) and c[0].dtype == a[0].dtype
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[0], c[0])
        for x, y, z in zip(a[1:], b[1:], c[1:], strict=True):
            assert torch.equal(x, y) and torch.equal(x, z)
    monkeypatch.undo()
    evaluation.drawn_masks(split, 64, IDS, cache_dir=tmp_path, **{**options, "language": "qab"})
    assert len(list(tmp_path.glob("*.pt"))) == 2  # another key: another draw


def partition_passes(split, passes=1, batch_size=16, max_tokens=None):
    from bloodbank.mlm.evaluation import fixed_masks

    return list(
        fixed_masks(
            split,
            64,
            IDS,
            vocab_size=VOCAB,
            batch_size=batch_size,
            seed=0,
            language="qaa",
            max_tokens=max_tokens,
            passes=passes,
            masking="partition",
        )
    )


def scored_positions(batches) -> Counter:
    """How often each (sentence, position) is a label, and with which token."""
    seen: Counter = Counter()
    for idx, _, _, labels in batches:
        for row, i in enumerate(idx):
            for pos in (labels[row] != IGNORE).nonzero().flatten().tolist():
                seen[(int(i), pos, int(labels[row, pos]))] += 1
    return seen


def test_partition_masking_scores_every_token_exactly_once_per_pass():
    split = toy_split(50)
    batches = partition_passes(split)
    seen = scored_positions(batches)
    _, _, maskable = collate(split, np.arange(50), 64, IDS)
    assert len(seen) == int(maskable.sum())  # every real token, never [CLS], [SEP], padding
    assert set(seen.values()) == {1}
    # each of the ceil(1/0.15) = 7 masks of a sentence masks about 1/7 of it
    per_mask = [int((y != IGNORE).sum()) for *_, y in batches[:7]]
    assert max(per_mask) - min(per_mask) <= 16  # one token per sentence at most
    # BERT's replacement of the chosen: mostly [MASK], some random, some kept
    inputs = torch.cat([x[y != IGNORE] for _, x, _, y in batches])
    labels = torch.cat([y[y != IGNORE] for *_, y in batches])
    share_masked = float((inputs == IDS.mask).float().mean())
    assert 0.7 < share_masked < 0.9 and (inputs == labels).any()
    # two passes: twice each token, by two different partitions
    two = partition_passes(split, passes=2)
    assert set(scored_positions(two).values()) == {2}
    n = len(batches)
    assert len(two) == 2 * n and all(
        torch.equal(a[3], b[3]) for a, b in zip(two[:n], batches, strict=True)
    )
    assert not all(torch.equal(a[3], b[3]) for a, b in zip(two[:n], two[n:], strict=True))


def test_partition_masks_do_not_depend_on_batching():
    split = toy_split(30)
    assert scored_positions(partition_passes(split, batch_size=64)) == scored_positions(
        partition_passes(split, batch_size=4, max_tokens=64)
    )


def test_evaluation_passes_add_independent_draws_after_the_single_one():
    from bloodbank.mlm.evaluation import fixed_masks

    split = toy_split(50)

    def draws(passes):
        return list(
            fixed_masks(
                split,
                64,
                IDS,
                vocab_size=VOCAB,
                batch_size=16,
                seed=0,
                language="qaa",
                passes=passes,
            )
        )

    one, three = draws(1), draws(3)
    assert len(three) == 3 * len(one)
    for (i1, x1, a1, y1), (i3, x3, a3, y3) in zip(one, three[: len(one)], strict=True):
        assert np.array_equal(i1, i3) and torch.equal(x1, x3) and torch.equal(y1, y3)
        assert torch.equal(a1, a3)
    first = torch.cat([y.flatten() for *_, y in one])
    second = torch.cat([y.flatten() for *_, y in three[len(one) : 2 * len(one)]])
    assert (first != IGNORE).any() and (second != IGNORE).any()
    assert not torch.equal(first != IGNORE, second != IGNORE)  # another draw, same text


def test_evaluation_over_passes_pools_every_draws_tokens():
    from bloodbank.mlm.evaluation import evaluate, fixed_masks

    split = toy_split(40)
    model = build_model(ModelConfig(hidden_size=32, num_layers=1, num_heads=2), VOCAB, 0, 0)
    cpu = torch.device("cpu")
    batches = list(
        fixed_masks(
            split, 64, IDS, vocab_size=VOCAB, batch_size=16, seed=0, language="qaa", passes=2
        )
    )
    half = len(batches) // 2
    a, b, both = (
        evaluate(model, part, len(split), device=cpu, bootstrap=0, seed=0)
        for part in (batches[:half], batches[half:], batches)
    )
    assert both.masked_tokens == a.masked_tokens + b.masked_tokens
    pooled = (a.mrr * a.masked_tokens + b.mrr * b.masked_tokens) / both.masked_tokens
    assert both.mrr == pytest.approx(pooled, rel=1e-12)


def test_eval_batches_respect_the_token_budget():
    lengths = toy_split(200).lengths()
    batches = eval_batches(lengths, 64, max_tokens=256)
    assert sorted(np.concatenate(batches).tolist()) == list(range(200))
    assert all(len(b) * (lengths[b].max() + 2) <= 256 for b in batches if len(b) > 1)
