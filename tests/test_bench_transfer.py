"""bench/bench_transfer.py trains in-process what the stages train: same numbers.

The benchmark is only worth its speed if, under the repository's own params, its
models are the pipeline's. The slow test runs it in the tiny pipeline's repository and
requires its pair MRRs to equal metrics/mrr.csv, so a change to the stages' keys or
seeds that the benchmark does not follow fails here.
"""

import sys

import numpy as np
import pytest
from conftest import ROOT, run

from bloodbank.data.token_ids import TokenizedSplit

sys.path.insert(0, str(ROOT / "bench"))
from bench_transfer import first_sentences


def test_first_sentences_keeps_whole_sentences_from_the_start():
    split = TokenizedSplit(np.arange(10, dtype=np.uint32), np.array([0, 3, 4, 8, 10]))
    two = first_sentences(split, 2)
    assert len(two) == 2 and two.ids.tolist() == [0, 1, 2, 3]
    assert [s.tolist() for s in (two.sentence(0), two.sentence(1))] == [[0, 1, 2], [3]]
    assert first_sentences(split, None) is split and first_sentences(split, 9) is split


@pytest.mark.slow
def test_the_benchmark_reproduces_the_pipelines_pair_mrrs(built, tmp_path):
    """Also through its cache of mono models: a first run that differs in the pair recipe
    only keeps them, and the second, the repository's own recipe, trains only the pairs
    from them, and must still give the pipeline's MRRs."""
    (repo, _), _ = built
    bench = [sys.executable, str(ROOT / "bench" / "bench_transfer.py"), "--seeds", "0"]
    cache = ["--cache", str(tmp_path)]
    brief = run([*bench, *cache, "--pair-epochs", "0.5", "--pair-lr", "1e-4"], repo)
    assert "metrics/mrr.csv" not in brief.stdout  # another recipe: nothing to check
    assert "pair trainings: 0.5 epochs, lr 0.0001" in brief.stdout
    assert len(list((tmp_path / "mono").iterdir())) == 3  # one per studied language
    out = run([*bench, *cache], repo)
    assert "metrics/mrr.csv: the same" in out.stdout, out.stdout
    assert "ρ(F matched, truth)" in out.stdout


def test_the_cache_trains_a_seed_once_and_replicates_average(tmp_path, monkeypatch):
    import bench_transfer as bt
    import pandas as pd

    trained = []

    def fake_pair_mrr(params, langs, seed, sentences, cache=None):  # MRRs naming their seed
        trained.append(seed)
        pairs = pd.DataFrame(seed + 0.0, index=pd.Index(langs, name="source"), columns=langs)
        return pd.Series(seed + 0.5, index=langs), pairs

    monkeypatch.setattr(bt, "pair_mrr", fake_pair_mrr)
    monkeypatch.setattr(bt, "cache_key", lambda params, langs, seed, sentences: f"k{seed}")
    langs = ["qaa", "qab"]
    runs = bt.replicate_runs(None, langs, 0, 2, None, tmp_path)
    again = bt.replicate_runs(None, langs, 0, 3, None, tmp_path)  # one more replicate
    seeds = bt.replicate_seeds(0, 3)
    assert trained == seeds  # the first two came from the cache the second time
    pd.testing.assert_frame_equal(again[1][1], runs[1][1], check_dtype=False)
    mono, pairs = bt.mean_mrr(again)
    assert mono["qab"] == sum(seeds) / 3 + 0.5 and pairs.loc["qaa", "qab"] == sum(seeds) / 3


def test_the_cache_key_follows_the_recipe_the_seed_and_the_data_bytes(tmp_path, monkeypatch):
    import bench_transfer as bt
    from inprocess import changed_params

    from bloodbank.core.config import load_params

    (tmp_path / "tok").mkdir()
    (tmp_path / "tok" / "tokenizer.json").write_text("{}")
    for lang in ("qaa", "qab"):
        (tmp_path / lang).mkdir()
        (tmp_path / lang / "train.ids.npy").write_bytes(lang.encode())
    monkeypatch.setattr(bt.paths, "TOKENIZER", tmp_path / "tok")
    monkeypatch.setattr(bt.paths, "tokens", lambda lang: tmp_path / lang)
    params, langs = load_params(ROOT / "params.yaml"), ["qaa", "qab"]
    key = bt.cache_key(params, langs, 0, None)
    assert key == bt.cache_key(changed_params(params), langs, 0, None)
    assert key == bt.cache_key(changed_params(params, epochs=params.train.epochs), langs, 0, None)
    others = {
        bt.cache_key(changed_params(params, epochs=3), langs, 0, None),
        bt.cache_key(params, langs, 1, None),
        bt.cache_key(params, langs, 0, 600),
        bt.cache_key(params, ["qab", "qaa"], 0, None),
        bt.cache_key(changed_params(params, pair_epochs=0.25), langs, 0, None),
        bt.cache_key(changed_params(params, pair_lr=3e-4), langs, 0, None),
    }
    (tmp_path / "qab" / "train.ids.npy").write_bytes(b"resampled")
    others.add(bt.cache_key(params, langs, 0, None))
    assert len(others) == 7 and key not in others


def planted_runs(noise: float, n_runs: int = 3):
    """Trainings of a 4-language world whose compute-matched F follows its truth exactly,
    with ``noise`` (sd, in MRR) added to every MRR of every training."""
    import pandas as pd

    langs = ["qaa", "qab", "qac", "qad"]
    truth = pd.DataFrame(
        [[100, 60, 5, 1], [50, 100, 3, 2], [4, 7, 100, 30], [6, 8, 20, 100]],
        index=pd.Index(langs, name="source"),
        columns=langs,
        dtype=float,
    )
    # every source gains on every target by as much as the truth says it shares
    mean_pairs = 0.2 * (1 + truth.where(truth < 100, 0) / 100)
    rng = np.random.default_rng(1)
    runs = []
    for _ in range(n_runs):
        mono = pd.Series(0.15, index=langs) + rng.normal(scale=noise, size=4)
        runs.append((mono, mean_pairs + rng.normal(scale=noise, size=(4, 4))))
    return runs, truth


@pytest.mark.slow  # about 17 s of resampling: kept out of the default run's 4 minutes
def test_power_analysis_finds_a_clear_structure_and_loses_it_in_noise():
    from bench_transfer import simulated_goals

    runs, truth = planted_runs(noise=1e-5)
    clear = simulated_goals(runs, truth, "mono", replicates=1, draws=10)
    assert clear == {"seeds": 1.0, "top": 1.0, "truth": 1.0, "types": 1.0, "all": 1.0}
    runs, truth = planted_runs(noise=0.03)
    noisy = simulated_goals(runs, truth, "mono", replicates=1, draws=20)
    assert noisy["all"] < 0.2 and noisy["seeds"] < 0.5
    # averaging replicates is what the analysis prices: more of them, better chances
    many = simulated_goals(runs, truth, "mono", replicates=200, draws=20)
    assert many["seeds"] > noisy["seeds"] and many["truth"] >= noisy["truth"]
    with pytest.raises(ValueError, match="at least two trainings"):
        simulated_goals(runs[:1], truth, "mono", replicates=1)
