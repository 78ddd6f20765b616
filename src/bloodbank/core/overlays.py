"""Configurations as overlays: each file in configs/ holds only what it changes.

Every default lives once, in :mod:`bloodbank.core.config`. A configuration is a partial
params tree laid over those defaults; several stack left to right, and a file may name
the overlays it builds on under ``use``. ``lbb config --use NAME [NAME ...]`` composes
them and writes params.yaml in full (DVC reads its keys there), every key commented
with its description, and the overlays it came from in its first line, so that a test
can compose them again and compare.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ValidationError

from bloodbank.core.config import ConfigError, Params, format_errors

CONFIGS = Path("configs")
HEADER = "# lbb config --use"
DEFAULT = "default"  # the name of the empty overlay: the defaults themselves


def known(configs: Path = CONFIGS) -> list[str]:
    return [DEFAULT, *sorted(p.stem for p in configs.glob("*.yaml"))]


def read_overlay(name: str, configs: Path = CONFIGS) -> dict[str, Any]:
    """One overlay's own keys (``use`` not expanded)."""
    path = configs / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(
            f"no configuration {name!r} in {configs}/ (known: {', '.join(known(configs))})"
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: an overlay is a mapping of params keys")
    return data


def expand(names: list[str], configs: Path = CONFIGS, _seen: tuple[str, ...] = ()) -> list[str]:
    """``names`` with the overlays each one ``use``s before it, each once, in order."""
    out: list[str] = []
    for name in names:
        if name == DEFAULT:
            continue
        if name in _seen:
            raise ConfigError(f"configs/{name}.yaml uses itself (through {' -> '.join(_seen)})")
        bases = read_overlay(name, configs).get("use", [])
        if not isinstance(bases, list) or not all(isinstance(b, str) for b in bases):
            raise ConfigError(f"configs/{name}.yaml: `use` must be a list of configuration names")
        for base in [*expand(list(bases), configs, (*_seen, name)), name]:
            if base not in out:
                out.append(base)
    return out


def merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` laid on ``base``: mappings merge key by key, anything else replaces."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def compose(names: list[str], configs: Path = CONFIGS) -> Params:
    """The defaults with the overlays ``names`` (and what they use) laid on, validated."""
    tree: dict[str, Any] = {}
    order = expand(names, configs)
    for name in order:
        overlay = {k: v for k, v in read_overlay(name, configs).items() if k != "use"}
        tree = merge(tree, overlay)
    try:
        return Params.model_validate(tree)
    except ValidationError as e:
        raise ConfigError(format_errors(e, Path(" + ".join(order) or DEFAULT))) from None


def repeated_defaults(overlay: Mapping[str, Any], defaults: Mapping[str, Any], prefix: str = ""):
    """The keys of ``overlay`` whose value is the default's: what it need not say."""
    for key, value in overlay.items():
        if key == "use" and not prefix:
            continue
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and isinstance(defaults.get(key), Mapping):
            yield from repeated_defaults(value, defaults[key], name + ".")
        elif key in defaults and defaults[key] == value:
            yield name


def section_model(annotation: Any) -> type[BaseModel] | None:
    """The section a field holds (its annotation, or a member of its union), if any."""
    for candidate in (annotation, *get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _comment(text: str, indent: str) -> list[str]:
    return [f"{indent}# {line}" for line in textwrap.wrap(text, 88 - len(indent) - 2)]


def _scalar(value: Any) -> str:
    return (
        yaml.safe_dump(value, default_flow_style=True, width=10_000)
        .strip()
        .removesuffix("...")
        .strip()
    )


def _lines(model: BaseModel, indent: str = "") -> list[str]:
    lines: list[str] = []
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        lines += _comment(field.description or "", indent)
        if section_model(field.annotation) is not None and isinstance(value, BaseModel):
            lines.append(f"{indent}{name}:")
            lines += _lines(value, indent + "  ")
        else:
            dumped = value.model_dump() if isinstance(value, BaseModel) else value
            lines.append(f"{indent}{name}: {_scalar(dumped)}")
    return lines


def render(params: Params, names: list[str]) -> str:
    """params.yaml for ``params``: every key, each under its description."""
    used = " ".join(names) if names else DEFAULT
    head = [
        f"{HEADER} {used}",
        "# Written by `lbb config`: every default is in src/bloodbank/core/config.py and",
        "# every configuration in configs/ says only what it changes. Edit this file for a",
        "# quick change (`dvc exp run -S key=value` does the same), or compose it again.",
        "",
    ]
    return "\n".join(head + _spaced(_lines(params))) + "\n"


def _spaced(lines: list[str]) -> list[str]:
    """A blank line before each top-level key's comment block, for reading."""
    out: list[str] = []
    for i, line in enumerate(lines):
        top_comment = line.startswith("# ") and (i == 0 or not lines[i - 1].startswith("# "))
        if top_comment and out:
            out.append("")
        out.append(line)
    return out


def recorded_names(params_file: Path) -> list[str] | None:
    """The overlays params.yaml's first line names, or None if it names none."""
    first = params_file.read_text(encoding="utf-8").split("\n", 1)[0]
    if not first.startswith(HEADER):
        return None
    return [n for n in first.removeprefix(HEADER).split() if n != DEFAULT]
