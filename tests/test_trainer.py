"""The training loop on a toy corpus: resumption, determinism, checkpoints."""

from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModelForMaskedLM

from bloodbank.core.config import ModelConfig, RuntimeConfig, TrainConfig
from bloodbank.data.token_ids import TokenizedSplit
from bloodbank.mlm.batching import SpecialIds
from bloodbank.mlm.evaluation import evaluate, fixed_masks
from bloodbank.mlm.model import build_model
from bloodbank.mlm.trainer import CHECKPOINT, total_steps, train_mlm

IDS = SpecialIds(pad=0, cls=2, sep=3, mask=4, n_special=5)
VOCAB = 200
MODEL = ModelConfig(
    hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, max_position_embeddings=64
)
TRAIN = TrainConfig(batch_size=4, epochs=2, lr=1e-3, threads=1, max_length=32)
RUNTIME = RuntimeConfig(checkpoint_every=10, log_every=5)
WORD_EMBEDDINGS = "bert.embeddings.word_embeddings.weight"


def toy_run(seed: int, resume_dir: Path, runtime: RuntimeConfig = RUNTIME) -> dict:
    """train_mlm's keyword arguments for the toy language."""
    return {
        "ids": IDS,
        "vocab_size": VOCAB,
        "seed": seed,
        "key": "toy",
        "resume_dir": resume_dir,
        "runtime": runtime,
    }


def toy_split(n: int = 60) -> TokenizedSplit:
    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 20, n)
    # a learnable language: each token predicts the next one
    starts = rng.integers(5, VOCAB, n)
    ids = np.concatenate(
        [(s + np.arange(k)) % (VOCAB - 5) + 5 for s, k in zip(starts, lengths, strict=True)]
    ).astype(np.uint32)
    return TokenizedSplit(ids, np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))


def train(
    tmp: Path,
    seed: int = 0,
    log=lambda m, s: None,
    cfg: TrainConfig = TRAIN,
    runtime: RuntimeConfig = RUNTIME,
):
    model = build_model(MODEL, VOCAB, 0, seed)
    result = train_mlm(model, toy_split(), cfg, **toy_run(seed, tmp / "resume", runtime), log=log)
    return model, result


def weights(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_same_seed_same_weights_other_seed_other_weights(tmp_path):
    a, ra = train(tmp_path / "a")
    b, rb = train(tmp_path / "b")
    c, _ = train(tmp_path / "c", seed=1)
    assert same(weights(a), weights(b)) and not same(weights(a), weights(c))
    assert ra.steps == total_steps(60, TRAIN) == 30 and ra.final_loss == rb.final_loss


def test_interrupted_run_resumes_to_identical_weights(tmp_path):
    reference, _ = train(tmp_path / "ref")

    def crash(metrics, step):
        if step == 25:
            raise KeyboardInterrupt  # killed after the step-20 checkpoint

    with pytest.raises(KeyboardInterrupt):
        train(tmp_path / "run", log=crash)
    assert (tmp_path / "run" / "resume" / CHECKPOINT).exists()
    resumed, result = train(tmp_path / "run")
    assert result.resumed_from_step == 20
    assert same(weights(resumed), weights(reference))
    assert not (tmp_path / "run" / "resume").exists()  # cleaned up when complete


def test_checkpoint_from_other_settings_is_ignored(tmp_path):
    def crash(metrics, step):
        if step == 15:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(tmp_path, log=crash)
    _, result = train(tmp_path, cfg=TRAIN.model_copy(update={"lr": 5e-4}))
    assert result.resumed_from_step == 0


@pytest.mark.parametrize(
    "other_start",
    [
        lambda: build_model(MODEL, VOCAB, 0, 7),  # the source model was retrained
        lambda: build_model(MODEL.model_copy(update={"dropout": 0.3}), VOCAB, 0, 0),
    ],
    ids=["other weights", "other dropout"],
)
def test_a_resume_state_from_another_starting_model_is_ignored(tmp_path, other_start):
    def crash(metrics, step):
        if step == 15:
            raise KeyboardInterrupt  # killed after the step-10 checkpoint

    with pytest.raises(KeyboardInterrupt):
        train(tmp_path, log=crash)
    model = other_start()
    fresh = weights(other_start())
    result = train_mlm(model, toy_split(), TRAIN, **toy_run(0, tmp_path / "resume"))
    assert result.resumed_from_step == 0
    reference = other_start()
    train_mlm(reference, toy_split(), TRAIN, **toy_run(0, tmp_path / "ref"))
    assert same(weights(model), weights(reference)) and not same(weights(model), fresh)


def test_training_learns_and_logs(tmp_path):
    logged = []
    cfg = TRAIN.model_copy(update={"epochs": 10, "lr": 3e-3})
    runtime = RUNTIME.model_copy(update={"log_every": 25})
    _, result = train(tmp_path, log=lambda m, s: logged.append((s, m)), cfg=cfg, runtime=runtime)
    assert [s for s, _ in logged] == [25, 50, 75, 100, 125, 150]
    assert {"loss", "learning_rate", "tokens_per_second"} <= set(logged[0][1])
    assert logged[-1][1]["learning_rate"] == 0.0  # linear decay to zero, no warm-up
    assert logged[-1][1]["loss"] < logged[0][1]["loss"]
    assert result.threads == 1 and result.device == "cpu"


def test_saved_checkpoint_reloads_identically_and_scores_the_same(tmp_path):
    model, _ = train(tmp_path)
    model.save_pretrained(tmp_path / "ckpt", safe_serialization=True)
    loaded = AutoModelForMaskedLM.from_pretrained(tmp_path / "ckpt")
    assert same(weights(model), weights(loaded))
    split = toy_split(30)

    def score(m):
        batches = fixed_masks(
            split, 32, IDS, vocab_size=VOCAB, batch_size=8, seed=0, language="toy"
        )
        return evaluate(m, batches, len(split), device=torch.device("cpu"), bootstrap=100, seed=0)

    a, b = score(model), score(loaded)
    assert a == b and a.masked_tokens > 0 and 0 < a.mrr <= 1
    assert a.mrr_ci[0] <= a.mrr <= a.mrr_ci[1]


def test_precision_auto_follows_the_hardware(monkeypatch):
    import bloodbank.mlm.trainer as trainer

    cpu = torch.device("cpu")
    assert not trainer.use_bf16("fp32", cpu) and trainer.use_bf16("bf16", cpu)
    for native in (True, False):
        monkeypatch.setattr(trainer, "native_bf16", lambda device, n=native: n)
        assert trainer.use_bf16("auto", cpu) is native


def test_probe_sees_the_curve_and_leaves_training_as_it_is(tmp_path):
    """A held-out curve (bench_recipe) must not change the weights a stage would write."""
    plain, _ = train(tmp_path / "plain")
    model = build_model(MODEL, VOCAB, 0, 0)
    test = toy_split(20)
    seen: list[tuple[int, float, bool]] = []

    def probe(step: int) -> None:
        training = model.training  # as the trainer hands it over
        batches = fixed_masks(test, 32, IDS, vocab_size=VOCAB, batch_size=8, seed=0, language="toy")
        seen.append(
            (
                step,
                evaluate(
                    model, batches, len(test), device=torch.device("cpu"), bootstrap=0, seed=0
                ).mrr,
                training,
            )
        )

    train_mlm(model, toy_split(), TRAIN, **toy_run(0, tmp_path / "r"), probe=({10, 30}, probe))
    assert [s for s, _, _ in seen] == [10, 30]
    assert not any(training for _, _, training in seen)  # scored in eval mode
    assert same(weights(plain), weights(model))


def _reference_training(model, split: TokenizedSplit, cfg: TrainConfig, seed: int) -> None:
    """The textbook loop the trainer stands for: transformers' model and torch's AdamW
    (transformers' groups), clipping and linear schedule, on the trainer's own batches
    and masks."""
    from transformers import get_linear_schedule_with_warmup

    from bloodbank.mlm.batching import collate, epoch_batches
    from bloodbank.mlm.masking import generator, mask_tokens
    from bloodbank.mlm.model import masked_lm_loss

    torch.set_num_threads(cfg.threads)
    model.train()
    groups: dict[bool, list] = {True: [], False: []}  # decayed or not, as transformers
    for name, weight in model.named_parameters():
        groups[not (name.endswith("bias") or "LayerNorm" in name)].append(weight)
    opt = torch.optim.AdamW(
        [
            {"params": groups[True], "weight_decay": cfg.weight_decay},
            {"params": groups[False], "weight_decay": 0},
        ],
        lr=cfg.lr,
        eps=cfg.adam_epsilon,
    )
    steps = total_steps(len(split), cfg)
    schedule = get_linear_schedule_with_warmup(opt, cfg.warmup_steps, steps)
    per_epoch = -(-len(split) // cfg.batch_size)
    for step in range(steps):
        epoch, b = divmod(step, per_epoch)
        batch = epoch_batches(split.lengths(), cfg.batch_size, seed, epoch)[b]
        input_ids, attention, maskable = collate(split, batch, cfg.max_length, IDS)
        inputs, labels = mask_tokens(
            input_ids,
            maskable,
            generator("train", "toy", seed, step),
            mask_id=IDS.mask,
            n_special=IDS.n_special,
            vocab_size=VOCAB,
            probability=cfg.mlm_probability,
            mask_fraction=cfg.mask_token_fraction,
            random_fraction=cfg.random_token_fraction,
        )
        masked_lm_loss(model, inputs, attention, labels).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
        opt.step()
        schedule.step()
        opt.zero_grad(set_to_none=True)


def test_a_whole_training_is_the_textbook_loop_when_nothing_is_random_but_the_data(tmp_path):
    """Without dropout, the trainer (functional forward, member AdamW, own clipping and
    schedule, lookup gradients added by hand) ends where a plain transformers and
    torch.optim loop ends from the same start, batches and masks: the pieces are tested
    one by one in test_packed.py, and this holds them to it over a whole run."""
    model_cfg = MODEL.model_copy(update={"dropout": 0.0, "num_layers": 2})
    cfg = TRAIN.model_copy(update={"weight_decay": 0.01, "warmup_steps": 3})
    ours, reference = (build_model(model_cfg, VOCAB, 0, seed=5) for _ in range(2))
    train_mlm(ours, toy_split(), cfg, **toy_run(1, tmp_path / "resume"))
    _reference_training(reference, toy_split(), cfg, seed=1)
    theirs = dict(reference.named_parameters())
    for name, weight in ours.named_parameters():
        assert torch.allclose(weight, theirs[name], atol=2e-5, rtol=1e-4), name
    moved = build_model(model_cfg, VOCAB, 0, seed=5).state_dict()
    assert not torch.allclose(ours.state_dict()[WORD_EMBEDDINGS], moved[WORD_EMBEDDINGS])
