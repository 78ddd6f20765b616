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
def test_the_benchmark_reproduces_the_pipelines_pair_mrrs(built):
    (repo, _), _ = built
    out = run([sys.executable, str(ROOT / "bench" / "bench_transfer.py"), "--seeds", "0"], repo)
    assert "metrics/mrr.csv: the same" in out.stdout, out.stdout
    assert "ρ(F matched, truth)" in out.stdout
