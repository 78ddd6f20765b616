import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, tiny_params
from pydantic import BaseModel

from bloodbank.core.config import ConfigError, Params, load_params
from bloodbank.core.overlays import (
    DEFAULT,
    compose,
    expand,
    known,
    read_overlay,
    recorded_names,
    render,
    repeated_defaults,
)


def write(tmp_path: Path, params: dict) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


CONFIGS = [n for n in known(ROOT / "configs") if n != DEFAULT]


def test_shipped_configurations_are_valid():
    default = load_params(ROOT / "params.yaml")
    paper = compose(["paper"], ROOT / "configs")
    assert default.dump.source == "synthetic"
    assert len(paper.languages) == 41 and len(paper.studied) == 22
    assert paper.sample.chars_per_language == 10_000_000
    assert paper.dump.date == "20211101"
    assert (paper.model.hidden_size, paper.model.num_layers, paper.train.lr) == (512, 4, 5e-5)
    assert (
        paper.tokenizer.vocab_size,
        paper.tokenizer.min_frequency,
        paper.tokenizer.limit_alphabet,
    ) == (100_000, 3, 5_000)


@pytest.mark.parametrize("name", CONFIGS)
def test_no_overlay_repeats_a_default(name):
    """An overlay says what it changes and nothing else: a default lives in one place. What
    it changes is measured against what it builds on: the defaults with its `use` laid on
    (synthetic-adapt sets the brief pair recipe again over the letters world's)."""
    overlay = read_overlay(name, ROOT / "configs")
    base = compose(overlay.get("use", []), ROOT / "configs").model_dump()
    repeated = list(repeated_defaults(overlay, base))
    assert not repeated, f"configs/{name}.yaml repeats the defaults of {repeated}"


def test_params_yaml_is_what_its_first_line_composes():
    """params.yaml is written by `lbb config --use`, and nothing edited it since."""
    path = ROOT / "params.yaml"
    names = recorded_names(path)
    assert names is not None, "params.yaml was not written by `lbb config --use`"
    assert path.read_text() == render(compose(names, ROOT / "configs"), names)


def test_rendered_params_hold_every_key_and_read_back(tmp_path):
    """DVC reads a stage's params from params.yaml itself, so every key is written, each
    under its description, and the file reads back to the same configuration."""
    params = compose(["paper", "streams"], ROOT / "configs")
    text = render(params, ["paper", "streams"])
    assert yaml.safe_load(text) == params.model_dump()
    assert text.startswith("# lbb config --use paper streams\n")
    assert "# peak learning rate (paper: 5e-5)\n  lr: 5.0e-05" in text
    path = tmp_path / "params.yaml"
    path.write_text(text)
    assert load_params(path) == params and recorded_names(path) == ["paper", "streams"]


def test_overlays_stack_left_to_right_and_pull_in_what_they_use(tmp_path):
    (tmp_path / "a.yaml").write_text("train: {epochs: 3, lr: 0.01}\n")
    (tmp_path / "b.yaml").write_text("use: [a]\ntrain: {epochs: 5}\n")
    (tmp_path / "c.yaml").write_text("use: [c]\n")
    stacked = compose(["b"], tmp_path)
    assert (stacked.train.epochs, stacked.train.lr) == (5, 0.01)
    assert compose(["b", "a"], tmp_path).train.epochs == 5  # a is already in, under b
    assert expand(["b", "a"], tmp_path) == ["a", "b"]
    assert compose(["default"], tmp_path) == Params()
    with pytest.raises(ConfigError, match="uses itself"):
        compose(["c"], tmp_path)
    with pytest.raises(ConfigError, match=r"no configuration 'nope' .*known: default, a, b, c"):
        compose(["nope"], tmp_path)
    (tmp_path / "bad.yaml").write_text("train: {epochs: many}\n")
    with pytest.raises(ConfigError, match=r"bad: invalid params: train\.epochs"):
        compose(["bad"], tmp_path)


def test_the_streams_overlay_needs_enough_text(tmp_path):
    streams = compose(["paper", "streams"], ROOT / "configs")
    assert streams.dump.source == "wikimedia-streams"
    assert not streams.extract.expand_templates
    params = tiny_params(dump={"source": "wikimedia-streams", "streams": {"text_chars": 100}})
    with pytest.raises(ConfigError, match="text_chars"):
        load_params(write(tmp_path, params))


def test_every_field_is_described_in_the_config_itself():
    """The configuration reference is generated from these descriptions."""

    def undescribed(model: type[BaseModel], prefix: str = "") -> list[str]:
        out = []
        for name, field in model.model_fields.items():
            if not field.description:
                out.append(prefix + name)
            nested = field.annotation
            if isinstance(nested, type) and issubclass(nested, BaseModel):
                out += undescribed(nested, f"{prefix}{name}.")
        return out

    assert not undescribed(Params)


@pytest.mark.parametrize("name", [DEFAULT, *CONFIGS])
def test_the_precision_never_depends_on_the_cpu(name, monkeypatch):
    """fp32 by default and in every shipped configuration: one commit, one computation,
    whether or not the CPU has AVX512-BF16 (bf16 stays an explicit choice)."""
    import bloodbank.mlm.trainer as trainer

    precision = compose([name], ROOT / "configs").train.precision
    assert precision == "fp32"
    for native in (True, False):
        monkeypatch.setattr(trainer, "native_bf16", lambda device, n=native: n)
        assert not trainer.use_bf16(precision, trainer.pick_device("cpu"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"sample": {"chars_per_languge": 5}}, r"sample\.chars_per_languge: unknown key"),
        ({"bogus": 1}, r"bogus: unknown key"),
        ({"graph": {"bins": [10, -10, 55]}}, r"graph: bins must be 3 increasing borders"),
        ({"graph": {"baseline": "other"}}, r"graph\.baseline: Input should be 'mono' or"),
        ({"sample": {"chars_per_language": "many"}}, r"sample\.chars_per_language: .*integer"),
        ({"languages": ["qaa", "xx"]}, r"languages\.1: unknown language code 'xx'"),
        ({"languages": ["qaa", "../x"]}, r"languages\.1: language code '\.\./x' is not"),
        ({"studied": ["qaa", "qag"]}, r"studied languages \['qag'\] must also be in languages"),
        ({"languages": ["qaa", "qaa"], "studied": ["qaa"]}, r"languages lists qaa more than once"),
        ({"dump": {"source": "ftp"}}, r"dump\.source: Input should be 'synthetic'"),
        ({"dump": {"date": "2021-11-01"}}, r"dump\.date must be YYYYMMDD"),
    ],
)
def test_bad_params_fail_with_one_message_naming_the_key(tmp_path, change, message):
    with pytest.raises(ConfigError, match=message) as err:
        load_params(write(tmp_path, tiny_params(**change)))
    assert "\n" not in str(err.value)
    assert str(tmp_path / "params.yaml") in str(err.value)


def test_missing_params_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_params(tmp_path / "nope.yaml")


def test_lbb_config_use_writes_the_stack_and_lbb_pairs_shows_it(tmp_path, monkeypatch, capsys):
    from bloodbank.cli import main

    monkeypatch.chdir(ROOT)  # configs/ is read from the repository
    target = tmp_path / "params.yaml"
    assert main(["config", "--use", "paper", "streams", "--params", str(target)]) == 0
    assert recorded_names(target) == ["paper", "streams"]
    assert load_params(target) == compose(["paper", "streams"], ROOT / "configs")
    capsys.readouterr()
    assert main(["pairs", "--params", str(target)]) == 0
    shown = capsys.readouterr().out  # every ordered pair and the diagonal
    assert "462 of 462 pairs (100.0%; design all; 0 extra), and 22 compute-matched" in shown
    assert main(["config", "--params", str(target)]) == 0
    assert "composed from paper + streams" in capsys.readouterr().out
    assert main(["config", "--use", "nope", "--params", str(target)]) == 1
    assert "no configuration 'nope'" in capsys.readouterr().err


def test_lbb_help_imports_none_of_the_numerical_stack():
    """`lbb --help` builds every command's parser; the numerical libraries wait for a
    command that needs them (they made the help take a second)."""
    code = (
        "import sys\n"
        "from bloodbank.cli import build_parser\n"
        "build_parser().format_help()\n"
        "heavy = {'numpy', 'pandas', 'scipy', 'torch', 'requests'}\n"
        "loaded = heavy & {m.split('.')[0] for m in sys.modules}\n"
        "assert not loaded, sorted(loaded)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
