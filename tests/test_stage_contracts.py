"""dvc.yaml against the code: deps cover every module a stage runs, params are exactly the
keys that change results, and git tracks no output of a stage that no longer exists.

DVC reruns what changed and nothing else only if these hold; they are read from DVC's
own view of the pipeline (foreach and matrix expanded), never from dvc.yaml by hand.
"""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path

import pytest
import yaml

from bloodbank.core import paths
from bloodbank.core.codedeps import closure
from bloodbank.core.config import Params, RuntimeConfig
from bloodbank.core.paths import PIPELINES
from bloodbank.core.settings import KEYS, declared

ROOT = Path(__file__).resolve().parents[1]
CODE_ROOTS = ("src/", "stages/")
TRAINING = ("mono", "pair", "pretrain")
# how the pipeline runs, not what it computes: no stage may rerun when these change
NOT_RESULTS = {
    "runtime",
    *(f"runtime.{k}" for k in RuntimeConfig.model_fields),
    "runtime.tracking.enabled",
    "runtime.tracking.experiment",
    "dump.timeout",
    "dump.retries",
    "dump.min_rate",
    "dump.max_page_mb",
    "dump.max_stream_mb",
}


@cache
def all_stages() -> list:
    """Every stage as DVC resolves both pipelines, foreach and matrix expanded."""
    from dvc.repo import Repo

    return list(Repo(str(ROOT)).index.stages)


def stages() -> dict[str, object]:
    """One DVC stage per stage script (foreach copies share deps, up to their data)."""
    out: dict[str, object] = {}
    for stage in all_stages():
        out.setdefault(stage.name.split("@")[0], stage)
    return out


def script_of(stage) -> Path:
    words = stage.cmd.split()
    assert words[:2] == ["python", "-P"], f"{stage.name}: run stages as `python -P <script>`"
    return ROOT / words[2]


def code_deps(stage) -> list[str]:
    return [
        d.def_path
        for d in stage.deps
        if d.def_path.startswith(CODE_ROOTS) or f"{d.def_path}/" in CODE_ROOTS
    ]


def runs(stage) -> list[str]:
    """The project files a stage's script runs (its import closure), repository-relative."""
    return sorted(str(p.relative_to(ROOT)) for p in closure(script_of(stage), ROOT / "src"))


def declared_params(stage) -> set[str]:
    return {k for d in stage.deps if hasattr(d, "params") for k in d.params}


def settings_kinds(stage) -> list[str]:
    """The kinds whose settings file (metrics/settings/<kind>.json) the stage depends on."""
    return [
        Path(d.def_path).stem
        for d in stage.deps
        if Path(d.def_path).parent == paths.SETTINGS and not hasattr(d, "params")
    ]


def params_of(stage) -> set[str]:
    """The keys a stage's results depend on: its own params, and its settings file's."""
    return declared_params(stage) | {k for kind in settings_kinds(stage) for k in KEYS[kind]}


def covered(path: str, deps: list[str]) -> bool:
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in deps)


def test_every_stage_declares_every_module_it_imports():
    """Directly, or through its kind's settings file, which holds the digest of every
    file its script runs: then the settings stage, which writes it, declares them."""
    settings = code_deps(stages()["settings"])
    missing = []
    for name, stage in sorted(stages().items()):
        deps = settings if settings_kinds(stage) == [name] else code_deps(stage)
        missing += [f"{name}: dvc.yaml misses {f}" for f in runs(stage) if not covered(f, deps)]
    assert not missing, "\n".join(missing)


def test_a_stage_with_a_settings_file_lists_no_code():
    """Its code is in its settings file; a module list would only lengthen dvc.lock,
    which DVC parses and rewrites after every stage."""
    listed = {
        name: code_deps(stage)
        for name, stage in stages().items()
        if settings_kinds(stage) and code_deps(stage)
    }
    assert not listed, listed


def test_declared_code_exists_and_single_files_are_imported():
    wrong = []
    for name, stage in sorted(stages().items()):
        used = set(runs(stage))
        for dep in code_deps(stage):
            if not (ROOT / dep).exists():
                wrong.append(f"{name}: {dep} does not exist")
            elif dep.endswith(".py") and dep not in used:
                wrong.append(f"{name}: {dep} is declared but never imported")
    assert not wrong, "\n".join(wrong)


def test_declared_params_exist():
    full = Params.model_validate({"languages": ["qaa"], "studied": ["qaa"]}).model_dump(mode="json")
    unknown = []
    for name, stage in sorted(stages().items()):
        for key in params_of(stage):
            node = full
            for part in key.split("."):
                if not isinstance(node, dict) or part not in node:
                    unknown.append(f"{name}: {key}")
                    break
                node = node[part]
    assert not unknown, "unknown params keys: " + ", ".join(unknown)


@pytest.mark.parametrize("name", TRAINING)
def test_training_stages_declare_the_recipe_sections_whole(name):
    """Every key of ``train`` changes the weights, so the section is declared whole; only
    the pair stage reads ``pair_recipe``, so changing it retrains no mono model."""
    declared = params_of(stages()[name])
    assert {"seed", "train", "eval"} <= declared
    assert not {k for k in declared if k.startswith("train.")}
    assert ("pair_recipe" in declared) == (name == "pair")
    assert ("model" in declared) == (name != "pair")  # a pair's model is its source's


def test_exactly_the_stages_that_read_replicates_declare_it():
    for name, stage in stages().items():
        if name == "settings":  # declares every kind's keys, for their files
            continue
        reads = "params.replicates" in script_of(stage).read_text()
        assert reads == ("replicates" in params_of(stage)), name


def test_no_stage_reruns_on_settings_that_change_no_result():
    for name, stage in stages().items():
        assert not NOT_RESULTS & params_of(stage), name


def test_git_tracks_only_outputs_of_current_stages():
    """A file under metrics/ or reports/ that no stage writes is a stale result."""
    outs = [o.def_path for stage in all_stages() for o in stage.outs]
    tracked = subprocess.run(
        ["git", "ls-files", "metrics", "reports"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    stale = [f for f in tracked if Path(f).name != ".gitignore" and not covered(f, outs)]
    assert not stale, f"tracked but written by no stage: {stale}"


def test_every_output_lies_in_a_folder_dvc_may_write():
    """.dvcignore ignores everything at the root but the pipeline's folders and files, so
    that DVC refuses an output named outside them by a careless value ("../../notes")
    before it deletes anything. Each declared output must lie in a re-included folder."""
    allowed = {
        line[2:].strip("/")
        for line in (ROOT / ".dvcignore").read_text().splitlines()
        if line.startswith("!/")
    }
    spec = {
        name: stage
        for pipeline in PIPELINES
        for name, stage in yaml.safe_load((ROOT / pipeline).read_text())["stages"].items()
    }
    for name, stage in spec.items():
        body = stage.get("do", stage)
        for kind in ("outs", "metrics", "plots"):
            for entry in body.get(kind, []):
                path = next(iter(entry)) if isinstance(entry, dict) else entry
                assert path.split("/")[0] in allowed, f"{name}: {path}"
        for dep in body.get("deps", []):
            assert dep.split("/")[0] in allowed, f"{name}: {dep} (DVC would not hash it)"


def test_no_fanned_out_stage_depends_on_a_folder_of_every_language():
    """Linear cost in the number of languages: a stage per language that depends on a
    folder holding an output per language makes DVC hash N folders of N entries each
    (N² work in `dvc status` and every repro). Such stages depend on an index file that
    one stage writes instead (metrics/tokens.csv for data/tokens)."""
    languages = set(yaml.safe_load((ROOT / "params.yaml").read_text())["languages"])
    fanned = [s for s in all_stages() if s.name.partition("@")[2] in languages]
    per_language = {str(Path(o.def_path).parent) for s in fanned for o in s.outs}
    wrong = [
        f"{s.name}: {d.def_path}"
        for s in fanned
        for d in s.deps
        if not hasattr(d, "params") and d.def_path.rstrip("/") in per_language
    ]
    assert not wrong, "fanned-out stages depending on a folder of every language: " + str(wrong)


def test_fanned_out_stages_depend_on_their_settings_and_declare_no_params():
    """DVC parses params.yaml once per stage that declares params; at hundreds of
    languages that was most of `dvc status`, growing with the square of the languages.
    A stage fanned out over the languages depends on its kind's settings file instead,
    and checks it against params.yaml before it computes anything."""
    languages = set(yaml.safe_load((ROOT / "params.yaml").read_text())["languages"])
    wrong = []
    for name, stage in sorted(stages().items()):
        fanned = stage.name.partition("@")[2] in languages
        if fanned and declared_params(stage):
            wrong.append(f"{name}: declares {sorted(declared_params(stage))}")
        if settings_kinds(stage) not in ([name] if name in KEYS else [], []):
            wrong.append(f"{name}: depends on the settings of {settings_kinds(stage)}")
        if name in KEYS and f'load_checked("{name}")' not in script_of(stage).read_text():
            wrong.append(f"{name}: {script_of(stage).name} does not check its settings")
    assert set(KEYS) <= set(stages()), f"settings for no stage: {set(KEYS) - set(stages())}"
    assert not wrong, "\n".join(wrong)


def test_the_settings_stage_declares_every_kinds_keys():
    """Changing any key of any kind reruns the settings stage, which rewrites that kind's
    file only: the stages of other kinds see their own file unchanged."""
    assert declared_params(stages()["settings"]) == set(declared())
    assert [o.def_path for o in stages()["settings"].outs] == [str(paths.SETTINGS)]
