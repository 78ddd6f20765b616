"""Which of the project's files a stage script runs: its import closure within bloodbank.

Every ``import`` and ``from ... import`` statement counts, those inside functions too,
and importing ``a.b.c`` runs ``a/__init__.py`` and ``a/b/__init__.py`` as well. Run
as a script, it prints each stage script's closure (a starting point for dvc.yaml).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = "bloodbank"


def module_file(name: str) -> Path | None:
    """The source file of a ``bloodbank`` module, or None if it is not a module."""
    base = SRC.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _with_parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def imported_modules(path: Path) -> set[str]:
    """The ``bloodbank`` modules one file imports, anywhere in it."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            names += [
                f"{node.module}.{a.name}"
                for a in node.names
                if module_file(f"{node.module}.{a.name}")
            ]
        else:
            continue
        for name in names:
            if name == PACKAGE or name.startswith(PACKAGE + "."):
                found.update(m for m in _with_parents(name) if module_file(m))
    return found


def closure(script: Path) -> set[Path]:
    """Every project source file that running ``script`` may execute, itself included."""
    files = {script.resolve()}
    todo = [script.resolve()]
    while todo:
        for name in imported_modules(todo.pop()):
            path = module_file(name).resolve()
            if path not in files:
                files.add(path)
                todo.append(path)
    return files


def relative(paths: set[Path]) -> list[str]:
    return sorted(str(p.relative_to(ROOT)) for p in paths)


if __name__ == "__main__":
    for script in (
        sorted((ROOT / "stages").glob("*.py")) if len(sys.argv) < 2 else map(Path, sys.argv[1:])
    ):
        print(f"{script.stem}:")
        for f in relative(closure(script)):
            print(f"  - {f}")
