"""Packed training: a model trained in a pack is the model trained alone.

Member by member (a CPU's default), bitwise; as one vmapped model (a GPU's default, also
run here), within a stated tolerance: padding a batch to the widest member's changes
the order of some sums. Resumption is per member.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from test_trainer import IDS, MODEL, RUNTIME, TRAIN, VOCAB, same, toy_split, weights
from transformers import get_linear_schedule_with_warmup

from bloodbank.mlm.batching import epoch_batches, width_schedule
from bloodbank.mlm.evaluation import evaluate, fixed_masks
from bloodbank.mlm.model import build_model
from bloodbank.mlm.packed import (
    WORD,
    MemberAdamW,
    Shape,
    clip_member,
    encode,
    head,
    linear_schedule,
)
from bloodbank.mlm.trainer import Member, train_mlm, train_pack

# the batched pack against lone runs, after 30 steps of the toy recipe (measured: at most
# 4e-7 on weights, 1e-7 relative on the final loss)
WEIGHT_TOLERANCE = 1e-5
MRR_TOLERANCE = 1e-4
SIZES = (60, 44, 52)  # members of unequal data: 30, 22 and 26 steps


def member(k: int, root: Path, **extra) -> Member:
    return Member(toy_split(SIZES[k]), k, f"toy{k}", root / f"resume{k}", **extra)


def alone(k: int, root: Path):
    model = build_model(MODEL, VOCAB, 0, k)
    m = member(k, root)
    result = train_mlm(
        model, m.split, TRAIN, ids=IDS, vocab_size=VOCAB, seed=k, key=m.key,
        resume_dir=m.resume_dir, runtime=RUNTIME,
    )  # fmt: skip
    return model, result


def pack(root: Path, kernels: str, members=None, cfg=TRAIN):
    models = [build_model(MODEL, VOCAB, 0, k) for k in range(len(SIZES))]
    members = members or [member(k, root) for k in range(len(SIZES))]
    cfg = cfg.model_copy(update={"pack_kernels": kernels, "pack": len(SIZES)})
    results = train_pack(models, members, cfg, ids=IDS, vocab_size=VOCAB, runtime=RUNTIME)
    return models, results


def mrr(model) -> float:
    test = toy_split(30)
    batches = fixed_masks(test, 32, IDS, vocab_size=VOCAB, batch_size=8, seed=0, language="toy")
    return evaluate(model, batches, len(test), device=torch.device("cpu"), bootstrap=0, seed=0).mrr


@pytest.fixture(scope="module")
def lone(tmp_path_factory):
    root = tmp_path_factory.mktemp("alone")
    return [alone(k, root) for k in range(len(SIZES))]


def test_the_functional_forward_is_transformers_bert():
    model = build_model(MODEL, VOCAB, 0, 3).eval()
    ids = torch.randint(5, VOCAB, (3, 9))
    attention = torch.ones(3, 9, dtype=torch.long)
    attention[1, 6:] = 0
    ids[1, 6:] = IDS.pad
    p = dict(model.named_parameters())
    with torch.no_grad():
        reference = model(input_ids=ids, attention_mask=attention).logits
        hidden = encode(p, Shape.of(model.config), p[WORD][ids], attention, None)
        mine = head(p, Shape.of(model.config), hidden)
    real = attention.bool()
    torch.testing.assert_close(mine[real], reference[real], atol=1e-5, rtol=1e-5)


def test_a_pack_run_member_by_member_equals_lone_runs_bitwise(tmp_path, lone):
    models, results = pack(tmp_path, "each")
    for (reference, ref), model, result in zip(lone, models, results, strict=True):
        assert same(weights(model), weights(reference))
        assert result.steps == ref.steps and result.final_loss == ref.final_loss
    assert [r.steps for r in results] == [30, 22, 26]


def test_a_batched_pack_matches_lone_runs_within_the_stated_tolerance(tmp_path, lone):
    models, results = pack(tmp_path, "batched")
    for (reference, ref), model, result in zip(lone, models, results, strict=True):
        assert largest_difference(model, reference) <= WEIGHT_TOLERANCE
        assert result.final_loss == pytest.approx(ref.final_loss, rel=1e-5)
        assert abs(mrr(model) - mrr(reference)) <= MRR_TOLERANCE
    # and the members did not train alike: each kept its own seed, data and dropout
    assert not same(weights(models[0]), weights(models[2]))


def crash_at(step: int):
    def crash(metrics, done):
        if done == step:
            raise KeyboardInterrupt  # killed after the step-20 checkpoint

    return crash


def test_members_resume_each_from_their_own_checkpoint(tmp_path):
    """Member by member, members 0 and 1 had finished when member 2 was killed; not kept,
    their final states were never saved, but their step-20 checkpoints stay until the
    pack returns: every member resumes from its own, and ends as if never stopped."""
    uninterrupted, _ = pack(tmp_path / "whole", "each")
    crashing = [member(0, tmp_path), member(1, tmp_path), member(2, tmp_path, log=crash_at(25))]
    with pytest.raises(KeyboardInterrupt):
        pack(tmp_path, "each", crashing)
    models, results = pack(tmp_path, "each")
    assert [r.resumed_from_step for r in results] == [20, 20, 20]
    for model, reference in zip(models, uninterrupted, strict=True):
        assert same(weights(model), weights(reference))


def test_a_finished_member_that_keeps_its_state_is_not_trained_again(tmp_path):
    """As a pair stage runs its targets: each keeps its finished state until all are
    written, so a rerun trains only what was left."""
    uninterrupted, _ = pack(tmp_path / "whole", "each")
    kept = [member(k, tmp_path, keep_final=True) for k in range(3)]
    kept[2] = member(2, tmp_path, keep_final=True, log=crash_at(25))
    with pytest.raises(KeyboardInterrupt):
        pack(tmp_path, "each", kept)
    models, results = pack(
        tmp_path, "each", [member(k, tmp_path, keep_final=True) for k in range(3)]
    )
    assert [r.resumed_from_step for r in results] == [30, 22, 20]
    for model, reference in zip(models, uninterrupted, strict=True):
        assert same(weights(model), weights(reference))


def test_a_batched_pack_resumes_each_member_from_its_own_checkpoint(tmp_path):
    uninterrupted, _ = pack(tmp_path / "whole", "batched")
    crashing = [member(0, tmp_path, log=crash_at(25)), member(1, tmp_path), member(2, tmp_path)]
    with pytest.raises(KeyboardInterrupt):
        pack(tmp_path, "batched", crashing)
    models, results = pack(tmp_path, "batched")
    # member 1 (22 steps) had finished: its step-20 checkpoint stays until the pack returns
    assert [r.resumed_from_step for r in results] == [20, 20, 20]
    for model, reference in zip(models, uninterrupted, strict=True):
        assert largest_difference(model, reference) <= WEIGHT_TOLERANCE


def largest_difference(a, b) -> float:
    wa, wb = weights(a), weights(b)
    return max((wa[n] - wb[n]).abs().max().item() for n in wa)


def test_a_pack_holds_one_architecture(tmp_path):
    models = [build_model(MODEL, VOCAB, 0, 0), build_model(MODEL, VOCAB + 8, 0, 0)]
    members = [member(0, tmp_path), member(1, tmp_path)]
    with pytest.raises(ValueError, match="one architecture"):
        train_pack(models, members, TRAIN, ids=IDS, vocab_size=VOCAB, runtime=RUNTIME)


def test_member_adamw_and_clipping_are_torchs_own():
    """The pack's per-member optimizer is transformers' AdamW set-up, to the bit."""
    model = build_model(MODEL, VOCAB, 0, 0)
    twin = build_model(MODEL, VOCAB, 0, 0)
    cfg = TRAIN.model_copy(update={"weight_decay": 0.01})
    decay = [p for n, p in twin.named_parameters() if not (n.endswith("bias") or "LayerNorm" in n)]
    rest = [p for n, p in twin.named_parameters() if n.endswith("bias") or "LayerNorm" in n]
    reference = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.01}, {"params": rest, "weight_decay": 0.0}],
        lr=1e-3,
        eps=cfg.adam_epsilon,
        fused=True,
    )
    mine = dict(model.named_parameters())
    opt = MemberAdamW(mine, eps=cfg.adam_epsilon, weight_decay=0.01)
    schedule = get_linear_schedule_with_warmup(reference, 2, 5)
    gen = torch.Generator().manual_seed(0)
    for step in range(5):
        for a, b in zip(model.parameters(), twin.parameters(), strict=True):
            a.grad = torch.randn(a.shape, generator=gen)
            b.grad = a.grad.clone()
        clip_member([p.grad for p in model.parameters()], 1.0)
        torch.nn.utils.clip_grad_norm_(twin.parameters(), 1.0)
        opt.step(1e-3 * linear_schedule(step, warmup=2, total=5))
        reference.step()
        schedule.step()
    assert same(weights(model), weights(twin))


def test_width_schedule_lines_up_trainings_of_other_data_and_seeds():
    rng = np.random.default_rng(0)
    a = rng.lognormal(3.3, 0.55, 3000).astype(int) + 1
    b = rng.lognormal(3.3, 0.55, 2600).astype(int) + 1  # other sentences, other count
    wa = np.array([a[x].max() for x in epoch_batches(a, 32, 0, 0)])
    wb = np.array([b[x].max() for x in epoch_batches(b, 32, 7, 0)])
    n = min(len(wa), len(wb))

    def padding(x, y):  # the work of a pack of the two, over the work of its members
        return np.maximum(x, y).mean() / ((x + y) / 2).mean()

    unaligned = padding(wa[:n], wb[np.random.default_rng(1).permutation(n)])
    assert padding(wa[:n], wb[:n]) < 1.15 < unaligned  # measured: 1.11 against 1.28
    other_epoch = [a[x].max() for x in epoch_batches(a, 32, 0, 1)]
    assert np.corrcoef(wa, other_epoch)[0, 1] < 0.5  # a new random order each epoch
    order = width_schedule(np.array(wa), 0)
    assert sorted(order) == list(range(len(wa)))


ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # a fresh interpreter importing torch
def test_the_device_check_needs_nothing_of_dvc_mlflow_or_ray():
    code = (
        "import runpy, sys; runpy.run_path('bench/device_check.py', run_name='check'); "
        "print(sorted({'dvc', 'mlflow', 'ray'} & {m.split('.')[0] for m in sys.modules}))"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert found.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.slow
def test_the_device_check_runs_on_a_cpu():
    """bench/device_check.sh --cpu: the GPU script's checks, here, so that it cannot rot."""
    proc = subprocess.run(
        ["bash", "bench/device_check.sh", "--cpu"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "PYTHON": sys.executable},
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for line in (
        "PASS pack member by member = alone",
        "PASS batched pack ~ alone",
        "PASS two batched runs, identical bytes",
        "PASS bench_packed",
    ):
        assert line in proc.stdout
    assert "| 4 |" in proc.stdout and "22-language graph" in proc.stdout


@pytest.mark.parametrize("kernels", ["each", "batched"])
def test_a_packed_step_has_transformers_gradients(kernels):
    """Without dropout, a pack's gradients are those of transformers' BertForMaskedLM
    under the masked-LM loss, for every member: the functional forward, the loss over
    gathered positions and the lookup's gradient added at its rows are the model's own."""
    from bloodbank.mlm.masking import IGNORE
    from bloodbank.mlm.model import masked_lm_loss
    from bloodbank.mlm.packed import MemberBatch, pack_backward

    cfg = MODEL.model_copy(update={"dropout": 0.0})
    gen = torch.Generator().manual_seed(0)
    batches, expected, packed = [], [], []
    for k, width in enumerate((9, 12)):
        model = build_model(cfg, VOCAB, 0, k)
        ids = torch.randint(5, VOCAB, (3, width), generator=gen)
        attention = torch.ones(3, width, dtype=torch.long)
        attention[0, width - 3 :] = 0
        ids[0, width - 3 :] = IDS.pad
        labels = torch.where(torch.rand(3, width, generator=gen) < 0.3, ids, IGNORE)
        labels[0, width - 3 :] = IGNORE
        masked_lm_loss(model, ids, attention, labels).backward()
        expected.append({n: p.grad for n, p in model.named_parameters()})
        packed.append({n: p.detach().clone().requires_grad_() for n, p in model.named_parameters()})
        batches.append(MemberBatch(ids, attention, labels, None))
    pack_backward(
        packed,
        Shape.of(build_model(cfg, VOCAB, 0, 0).config),
        batches,
        batched=kernels == "batched",
    )
    for mine, theirs in zip(packed, expected, strict=True):
        for n, p in mine.items():
            torch.testing.assert_close(p.grad, theirs[n], atol=1e-6, rtol=1e-5)
