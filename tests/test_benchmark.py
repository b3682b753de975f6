"""The benchmark runs its loops and reports them against the floor; the figures themselves go in README."""

import sys

import torch

from notebook_cells import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import benchmark  # noqa: E402


def test_each_loop_trains_and_is_measured_against_the_floor_in_its_round():
    variants = {label: benchmark.VARIANTS[label] for label in list(benchmark.VARIANTS)[:2]}
    results = benchmark.measure(torch.device("cpu"), blocks=2, epochs=1, variants=variants)
    assert list(results) == list(variants)
    floor, fit = results.values()
    assert floor[1] == 1.0 and fit[0] > 0 and fit[1] > 0


def test_a_peer_that_is_not_installed_is_named_and_skipped(monkeypatch, capsys):
    monkeypatch.setattr(benchmark.importlib.util, "find_spec", lambda name: None)
    variants = benchmark.available_variants(compile=False)
    assert list(variants) == list(benchmark.VARIANTS)
    assert "(f) Lightning Trainer: skipped, lightning is not installed" in capsys.readouterr().out
