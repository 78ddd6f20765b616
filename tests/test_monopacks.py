"""Mono models packed across languages: groups, the stash, and a group trained once
whichever member's stage runs first."""

import json
import sqlite3
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from conftest import make_repo, run, tiny_params
from test_replicates import EVAL, MODEL, RUNTIME, TRAIN, same, weights, world  # noqa: F401

from bloodbank.mlm.monopacks import (
    PackFileError,
    Stash,
    groups,
    key_maker,
    pack_files,
    read_pack,
)
from bloodbank.mlm.runs import Recipe, train_mono, train_mono_packed

LANGS = ["qaa", "qab"]


def test_groups_cut_studied_in_order_and_a_new_language_changes_only_the_last():
    studied = ["a", "b", "c", "d", "e", "f"]
    assert groups(studied, pack=4, replicates=1) == [["a", "b", "c", "d"], ["e", "f"]]
    assert groups(studied, pack=4, replicates=2) == [["a", "b"], ["c", "d"], ["e", "f"]]
    assert groups(studied, pack=2, replicates=3) == [[c] for c in studied]  # at least one
    before = groups(studied, pack=4, replicates=1)
    after = groups([*studied, "g"], pack=4, replicates=1)
    assert after[:-1] == before[:-1] and after[-1] == ["e", "f", "g"]


def test_a_pack_file_names_its_group_and_every_member_s_training_arrays(tmp_path):
    hashes = {c: f"h{c}" for c in "abc"}
    files = pack_files(["a", "b", "c"], hashes, pack=2, replicates=1)
    expected = {"language": "b", "members": ["a", "b"], "train_sha256": {"a": "ha", "b": "hb"}}
    assert files["b"] == expected
    assert files["c"]["members"] == ["c"]
    path = tmp_path / "b.json"
    path.write_text('{"language": "b", "members": ["a", "b"], "train_sha256": {"a": "x"}}')
    with pytest.raises(PackFileError, match="hashes"):
        read_pack(path, "b")
    with pytest.raises(PackFileError, match="not the pack of c"):
        read_pack(path, "c")


def test_the_stash_keeps_one_complete_entry_per_language(tmp_path):
    stash = Stash(tmp_path)
    assert stash.take("qaa", "k1") is None
    (stash.staging("qaa", "k0") / "model").mkdir(parents=True)  # a killed pack's leftover
    assert stash.take("qaa", "k0") is None  # staged, never completed: not taken
    (stash.staging("qaa", "k1") / "model").mkdir(parents=True)
    (stash.staging("qaa", "k1") / "model" / "w").write_text("1")
    stash.put("qaa", "k1", results={"mrr": 0.5}, timing={}, log=[[{"loss": 1.0}, 5]])
    assert [p.name for p in (tmp_path / "qaa").iterdir()] == ["k1"]  # the leftover went
    assert stash.take("qaa", "k2") is None  # another key: another recipe or group
    entry = stash.take("qaa", "k1")
    assert entry.results == {"mrr": 0.5} and entry.log == [[{"loss": 1.0}, 5]]
    entry.move_model(tmp_path / "out")
    assert (tmp_path / "out" / "w").read_text() == "1" and not entry.folder.exists()


def test_a_group_s_lock_makes_a_second_stage_wait(tmp_path):
    stash, events = Stash(tmp_path), []

    def hold(name: str) -> None:
        with stash.lock(LANGS):
            events.append(f"{name} in")
            time.sleep(0.3)
            events.append(f"{name} out")

    first = threading.Thread(target=hold, args=("first",))
    first.start()
    time.sleep(0.1)
    hold("second")
    first.join()
    assert events == ["first in", "first out", "second in", "second out"]


def recipe(kernels: str) -> Recipe:
    train = TRAIN.model_copy(update={"pack": 2, "pack_kernels": kernels})
    return Recipe(train, EVAL, 0, 1, RUNTIME)


def packed(data: Path, root: Path, lang: str, kernels: str = "batched", settings: str = "s"):
    """``lang``'s mono stage, as the pipeline runs it, in a repository rooted at ``root``."""
    (root / "settings.json").parent.mkdir(parents=True, exist_ok=True)
    (root / "settings.json").write_text(settings)
    pack = read_pack_of(root, lang)
    key = key_maker(
        pack, {c: f"t{c}" for c in LANGS}, settings=root / "settings.json",
        tokenizer=data / "tokenizer",
    )  # fmt: skip
    logged: list = []
    out, how = train_mono_packed(
        lang,
        pack.members,
        MODEL,
        recipe(kernels),
        stash=Stash(root / "stash"),
        key=key,
        tokenizer_dir=data / "tokenizer",
        tokens_dir=lambda m: data / "tokens" / m,
        out=root / "mono" / lang,
        resume_dir=lambda m: root / "resume" / m,
        log=lambda metrics, step: logged.append((dict(metrics), step)),
    )
    return out, how, logged


def read_pack_of(root: Path, lang: str):
    files = pack_files(LANGS, {c: f"h{c}" for c in LANGS}, pack=2, replicates=1)
    path = root / "packs" / f"{lang}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(files[lang]))
    return read_pack(path, lang)


def test_a_batched_group_trains_once_and_either_order_gives_the_same_bytes(world, tmp_path):  # noqa: F811
    one, two = tmp_path / "one", tmp_path / "two"
    a, how_a, log_a = packed(world, one, "qaa")
    b, how_b, log_b = packed(world, one, "qab")
    assert (how_a, how_b) == ("packed", "stash")
    assert not (one / "stash" / "qab").exists() or not any((one / "stash" / "qab").iterdir())
    assert log_a and log_b  # qab's curve, replayed into its own stage's run
    b2, how_b2, log_b2 = packed(world, two, "qab")  # the other member's stage first
    a2, how_a2, _ = packed(world, two, "qaa")
    assert (how_b2, how_a2) == ("packed", "stash")
    for lang in LANGS:
        assert same(weights(one / "mono" / lang), weights(two / "mono" / lang))
    assert (a.results, b.results) == (a2.results, b2.results)

    def curve(log):
        return [(m["loss"], m["learning_rate"], step) for m, step in log]

    assert curve(log_b) == curve(log_b2)  # the replayed curve is the one logged live
    assert not (one / "resume").exists() or not any((one / "resume").iterdir())


def test_a_stash_of_another_recipe_is_not_taken(world, tmp_path):  # noqa: F811
    packed(world, tmp_path, "qaa", settings="recipe one")
    _, how, _ = packed(world, tmp_path, "qab", settings="recipe two")
    assert how == "packed"  # trained again, not taken


def test_member_by_member_each_stage_trains_alone_bitwise_as_train_mono(world, tmp_path):  # noqa: F811
    out, how, _ = packed(world, tmp_path, "qab", kernels="each")
    assert how == "alone" and not (tmp_path / "stash").exists()
    alone = train_mono(
        "qab", MODEL, recipe("each"), tokenizer_dir=world / "tokenizer",
        tokens_dir=world / "tokens" / "qab", out=tmp_path / "alone",
        resume_dir=tmp_path / "r", log=lambda m, s: None,
    )  # fmt: skip
    assert alone.results == out.results
    assert same(weights(tmp_path / "alone"), weights(tmp_path / "mono" / "qab"))


def lock_outs(repo: Path) -> dict[str, str]:
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    return {o["path"]: o.get("md5") for s in lock.values() for o in s.get("outs", [])}


def how_trained(repo: Path) -> list[str]:
    db = sqlite3.connect(repo / "mlflow.db")
    rows = db.execute(
        "select t.value from tags t join runs r on t.run_uuid = r.run_uuid "
        "where t.key = 'trained' and r.status = 'FINISHED'"
    )
    return sorted(v for (v,) in rows)


@pytest.mark.slow
@pytest.mark.e2e
def test_batched_mono_packs_give_the_same_bytes_under_dvc_repro_and_lbb_repro(tmp_path):
    """The tiny world's three mono models as one batched group: `dvc repro` runs their
    stages one by one, `lbb repro` two at a time. Either way the group trains once (one
    stage packs, the others take from its stash, each with its own MLflow run) and the
    outputs are the same bytes."""
    params = tiny_params(train={"pack_kernels": "batched"})
    serial = make_repo(tmp_path / "serial", params)
    run(["dvc", "repro", "mono"], serial)
    parallel = make_repo(tmp_path / "parallel", params)
    run([sys.executable, "-m", "bloodbank.cli", "repro", "--workers", "2", "mono"], parallel)
    outs = lock_outs(serial)
    assert {p for p in outs if p.startswith("models/mono/")} == {
        f"models/mono/{c}" for c in params["studied"]
    }
    assert outs == lock_outs(parallel)
    for repo in (serial, parallel):
        assert how_trained(repo) == ["packed", "stash", "stash"]
        stash = repo / "models/.packed"
        left = [p for p in stash.glob("*/*") if p.parent.name != ".locks"]
        assert not left  # every stashed model was taken
        packs = json.loads((repo / "metrics/packs/qab.json").read_text())
        assert packs["members"] == params["studied"]
