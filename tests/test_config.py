from pathlib import Path

import pytest
import yaml
from conftest import ROOT, tiny_params

from bloodbank.core.config import ConfigError, load_params


def write(tmp_path: Path, params: dict) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def test_shipped_configurations_are_valid():
    default = load_params(ROOT / "params.yaml")
    paper = load_params(ROOT / "configs" / "paper.yaml")
    assert default.dump.source == "synthetic"
    assert len(paper.languages) == 41 and len(paper.studied) == 22
    assert paper.sample.chars_per_language == 10_000_000
    assert paper.dump.date == "20211101"
    assert (
        paper.tokenizer.vocab_size,
        paper.tokenizer.min_frequency,
        paper.tokenizer.limit_alphabet,
    ) == (100_000, 3, 5_000)


CONFIGS = sorted(p.name for p in (ROOT / "configs").glob("*.yaml"))


@pytest.mark.parametrize("name", CONFIGS)
def test_every_configuration_spells_out_every_parameter(name):
    """DVC reads a stage's params from the file itself, so a key left to its default in
    a configuration stops `dvc repro` ("Parameters ... are missing")."""

    def keys(tree: dict, prefix: str = "") -> set[str]:
        out = set()
        for key, value in tree.items():
            out.add(prefix + key)
            if isinstance(value, dict) and value:
                out |= keys(value, f"{prefix}{key}.")
        return out

    written = yaml.safe_load((ROOT / "configs" / name).read_text())
    full = load_params(ROOT / "configs" / name).model_dump(mode="json")

    def leaves(tree: dict, prefix: str = "") -> set[str]:
        """Keys written without a value below them (``explicit: null``): DVC takes the
        whole key, whatever its model fills in."""
        out = set()
        for key, value in tree.items():
            if isinstance(value, dict) and value:
                out |= leaves(value, f"{prefix}{key}.")
            elif value is None or value == {}:
                out.add(prefix + key)
        return out

    whole = leaves(written)
    missing = {
        k for k in keys(full) - keys(written) if not any(k.startswith(w + ".") for w in whole)
    }
    assert not missing, f"configs/{name} leaves out {sorted(missing)}"


def test_the_streams_configurations_need_enough_text(tmp_path):
    streams = load_params(ROOT / "configs" / "paper-streams.yaml")
    assert streams.dump.source == "wikimedia-streams"
    assert not streams.extract.expand_templates
    params = tiny_params(dump={"source": "wikimedia-streams", "streams": {"text_chars": 100}})
    with pytest.raises(ConfigError, match="text_chars"):
        load_params(write(tmp_path, params))


@pytest.mark.parametrize("name", ["params.yaml", *(f"configs/{c}" for c in CONFIGS)])
def test_the_precision_never_depends_on_the_cpu(name, monkeypatch):
    """fp32 by default and in every shipped configuration: one commit, one computation,
    whether or not the CPU has AVX512-BF16 (bf16 stays an explicit choice)."""
    import bloodbank.mlm.trainer as trainer

    precision = load_params(ROOT / name).train.precision
    assert precision == "fp32"
    for native in (True, False):
        monkeypatch.setattr(trainer, "native_bf16", lambda device, n=native: n)
        assert not trainer.use_bf16(precision, trainer.pick_device("cpu"))


def test_params_yaml_is_the_default_configuration():
    assert (ROOT / "params.yaml").read_text() == (ROOT / "configs" / "default.yaml").read_text()


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
