"""The settings files: what each kind of fanned-out stage depends on instead of params."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bloodbank.core.config import Params
from bloodbank.core.settings import (
    KEYS,
    StaleSettingsError,
    check_settings,
    declared,
    settings_file,
    values,
    write_settings,
)

ROOT = Path(__file__).resolve().parents[1]


def params(**changes) -> Params:
    return Params.model_validate(changes)


def test_values_hold_exactly_the_kinds_keys():
    found = values(params(), "zeroshot")
    assert list(found) == list(KEYS["zeroshot"])
    assert found["train.max_length"] == params().train.max_length
    assert found["proxies"] == params().proxies.model_dump(mode="json")


def test_unknown_kind_is_refused_with_the_known_ones():
    with pytest.raises(KeyError, match="kinds: dump"):
        values(params(), "tokenizer")


def test_declared_leaves_out_keys_inside_declared_sections():
    keys = declared()
    assert "train" in keys and "train.threads" not in keys
    assert "sample" in keys and "sample.min_sentence_chars" not in keys
    assert "dump.source" in keys and "dump" not in keys  # the network keys rerun nothing
    assert keys == sorted(keys)


def test_written_settings_pass_their_check(tmp_path):
    written = write_settings(params(seed=3), tmp_path / "settings")
    assert sorted(p.stem for p in written) == sorted(KEYS)
    for kind in KEYS:
        check_settings(params(seed=3), kind, tmp_path / "settings")
    doc = json.loads(settings_file(tmp_path / "settings", "mono").read_text())
    assert sorted(doc) == ["code", "kind", "values"]
    assert doc["values"] == values(params(seed=3), "mono")
    assert "stages/mono.py" in doc["code"] and "src/bloodbank/mlm/trainer.py" in doc["code"]
    assert "src/bloodbank/data/dumps.py" not in doc["code"]  # only what mono runs


def test_a_code_edit_makes_only_the_kinds_that_run_it_stale(tmp_path):
    """The settings stage's digests stand in for each fanned-out stage's module list:
    an edit to the sampler reruns the stages whose scripts import it, no mono model."""
    for item in ("stages", "src"):
        shutil.copytree(ROOT / item, tmp_path / item, ignore=shutil.ignore_patterns("__pycache__"))
    write_settings(params(), tmp_path / "settings", root=tmp_path)
    edited = tmp_path / "src/bloodbank/data/sampling.py"
    edited.write_text(edited.read_text() + "# edited\n")
    stale = []
    for kind in KEYS:
        try:
            check_settings(params(), kind, tmp_path / "settings", root=tmp_path)
        except StaleSettingsError as e:
            assert "does not follow the code (src/bloodbank/data/sampling.py)" in str(e)
            stale.append(kind)
    assert stale == ["dump", "sample", "stats", "sample_pretrain"]


def test_a_change_makes_only_the_kinds_that_read_it_stale(tmp_path):
    """`pair_recipe` changes the pairs' file alone: mono models are not retrained."""
    folder = tmp_path / "settings"
    write_settings(params(), folder)
    changed = params(pair_recipe={"epochs": 7.0})
    for kind in KEYS:
        if kind == "pair":
            with pytest.raises(StaleSettingsError, match=r"pair_recipe\): run `dvc repro`"):
                check_settings(changed, kind, folder)
        else:
            check_settings(changed, kind, folder)


def test_same_values_give_the_same_bytes(tmp_path):
    a = write_settings(params(), tmp_path / "a")
    b = write_settings(params(runtime={"log_every": 3}), tmp_path / "b")
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]


def test_a_missing_or_foreign_file_is_refused(tmp_path):
    with pytest.raises(StaleSettingsError, match="missing: run `dvc repro`"):
        check_settings(params(), "mono", tmp_path)
    settings_file(tmp_path, "mono").write_text("[1, 2]")
    with pytest.raises(StaleSettingsError, match="not a settings file"):
        check_settings(params(), "mono", tmp_path)
