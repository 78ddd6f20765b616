"""Which of the project's files a stage script runs, and their digest.

A stage's results depend on every project module it imports, so its ``deps`` must cover
them. Listed file by file in each of the N stages fanned out over the languages, they
made dvc.lock hold about 40 lines a stage, and `dvc repro` parses and rewrites the whole
lock after every stage (about half of DVC's own time per stage on the default). So the
fanned-out stages list no modules: the ``settings`` stage, which depends on all the code,
writes into each kind's settings file the digest of exactly the files that kind's script
runs (:func:`code_digest`). A module edit changes the files of the kinds that import it,
and DVC reruns those stages only, as when each listed its modules.

The import closure counts every ``import`` and ``from ... import`` statement, those
inside functions too; importing ``a.b.c`` runs ``a/__init__.py`` and ``a/b/__init__.py``.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

PACKAGE = "bloodbank"


def module_file(name: str, src: Path) -> Path | None:
    """The source file of a ``bloodbank`` module under ``src``, or None if there is none."""
    base = src.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _with_parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def imported_modules(path: Path, src: Path) -> set[str]:
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
                if module_file(f"{node.module}.{a.name}", src)
            ]
        else:
            continue
        for name in names:
            if name == PACKAGE or name.startswith(PACKAGE + "."):
                found.update(m for m in _with_parents(name) if module_file(m, src))
    return found


def closure(script: Path, src: Path) -> set[Path]:
    """Every project source file that running ``script`` may execute, itself included."""
    files = {script.resolve()}
    todo = [script.resolve()]
    while todo:
        for name in imported_modules(todo.pop(), src):
            path = module_file(name, src).resolve()
            if path not in files:
                files.add(path)
                todo.append(path)
    return files


def code_digest(script: Path, root: Path) -> dict[str, str]:
    """``{path relative to root: sha256}`` of ``script``'s closure, in path order."""
    root = root.resolve()
    files = sorted(str(p.relative_to(root)) for p in closure(root / script, root / "src"))
    return {f: hashlib.sha256((root / f).read_bytes()).hexdigest() for f in files}
