"""bench/bench_proxies.py turns a measurement into the realistic worlds' ``--proxy-r2``.

A simulated proxy reads the noise-free pair-specific part with a given R², while a
measured one is scored against a seed's noisy graph. The bench divides what the first
seed's proxies predict of the second seed's graph by the share the two graphs have in
common. On simulated worlds, where the answer is known, that ratio must give it back,
however much seed noise the graphs carry.
"""

import sys

import pytest
from conftest import ROOT

from bloodbank.graph.simulate import simulate

sys.path.insert(0, str(ROOT / "bench"))
from bench_proxies import MIN_SHARED, reproducible


def _runs(r2: float, noise: float, seed: int) -> tuple[tuple, tuple]:
    world = simulate(30, seed, proxy_r2=(r2,), noise=noise)
    proxies = {"zeroshot_fit": world.proxies["proxy0"]}
    return (world.measured, proxies, world.mono), (world.twin, proxies, world.mono)


@pytest.mark.parametrize("noise", [2.3, 10.0])
@pytest.mark.parametrize("r2", [0.3, 0.9])
def test_the_share_of_what_reproduces_gives_back_a_simulated_proxys_r2(r2, noise):
    found = [reproducible(*_runs(r2, noise, seed)) for seed in range(3)]
    # noisier graphs share less of their pair-specific part
    assert all(f["shared"] < 0.9 for f in found) == (noise > 5)
    ratios = [f["ratio"] for f in found]
    # in-sample fits of a proxy and its structure read a little more than the truth
    assert all(r2 - 0.05 < r < r2 + 0.15 for r in ratios), ratios


def test_a_graph_that_is_mostly_noise_gives_no_ratio():
    first, second = _runs(0.9, 60.0, 0)
    found = reproducible(first, second)
    assert found["shared"] < MIN_SHARED and found["ratio"] is None
