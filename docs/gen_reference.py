"""Build the reference pages from the code itself (mkdocs-gen-files runs this).

reference/config.md walks the typed configuration (bloodbank.core.config): every key, its
type, its default and its description, so the page cannot drift from the code.
reference/cli.md is `lbb --help` and each command's `--help`.
"""

from __future__ import annotations

import argparse
import textwrap
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import mkdocs_gen_files
from pydantic import BaseModel

from bloodbank.cli import build_parser
from bloodbank.core.config import Params
from bloodbank.core.overlays import section_model


def _type(annotation: Any) -> str:
    """A type as a reader says it: ``one of `a`, `b```, ``list of int``, ``float or None``."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Literal:
        return "one of " + ", ".join(f"`{v}`" for v in args)
    if origin is Annotated:
        return _type(args[0])
    if origin in (Union, UnionType):
        return " or ".join(_type(a) for a in args)
    if origin is list:
        return f"list of {_type(args[0])}"
    if origin is dict:
        return f"map of {_type(args[0])} to {_type(args[1])}"
    if annotation is type(None):
        return "null"
    return getattr(annotation, "__name__", str(annotation))


def _cell(text: str) -> str:
    """Table-safe: no pipe ends the cell, no <...> is read as HTML."""
    text = text.replace("|", "\\|").replace("\n", " ")
    for char, entity in (("<", "&lt;"), (">", "&gt;"), ("{", "&#123;"), ("}", "&#125;")):
        text = text.replace(char, entity)  # braces: attr_list would read them
    return text


def config_rows(model: type[BaseModel], prefix: str = "") -> list[str]:
    rows: list[str] = []
    for name, field in model.model_fields.items():
        key = prefix + name
        nested = section_model(field.annotation)
        if nested is not None and isinstance(field.default, BaseModel):
            rows.append(f"| **`{key}`** | section | | {_cell(field.description or '')} |")
            rows += config_rows(nested, key + ".")
        else:
            default = field.default
            if isinstance(default, BaseModel):
                default = default.model_dump()
            shown = "" if default is None else f"`{default!r}`"
            rows.append(
                f"| `{key}` | {_cell(_type(field.annotation))} | {_cell(shown)} | "
                f"{_cell(field.description or '')} |"
            )
    return rows


def config_page() -> str:
    intro = textwrap.dedent(
        """\
        # Configuration reference

        Every key of `params.yaml`, generated from `src/bloodbank/core/config.py`: the
        default is the embedded default's value, and the description is the one written
        in the code. A configuration in `configs/` overrides only some of these
        ([Configuration](../configuration.md)).

        | key | type | default | what it does |
        |---|---|---|---|
        """
    )
    return intro + "\n".join(config_rows(Params)) + "\n"


def cli_page() -> str:
    parser = build_parser()
    parts = ["# CLI reference\n", "Generated from `lbb --help` and each command's `--help`.\n"]
    parts += ["```text", parser.format_help().rstrip(), "```\n"]
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in sub.choices.items():
        parts += [f"## lbb {name}\n", "```text", command.format_help().rstrip(), "```\n"]
    return "\n".join(parts)


with mkdocs_gen_files.open("reference/config.md", "w") as fh:
    fh.write(config_page())
with mkdocs_gen_files.open("reference/cli.md", "w") as fh:
    fh.write(cli_page())
