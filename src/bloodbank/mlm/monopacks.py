"""Mono models packed across languages, under one stage per language.

A GPU runs small trainings best as packs (``train.pack_kernels: batched``), and the mono
models are ready together: each needs only its own language's tokens. But DVC gives
each language its own stage, and a new language must not retrain the others. So the
``packs`` stage splits ``studied``, in its order, into groups of ``train.pack //
replicates`` languages (appending a language changes only the last group), and writes
one file per language naming its group and the hash of each member's training arrays:
under batched kernels a member's rounding depends on its companions' batch widths, so
every member's file changes when any member's data does, and DVC reruns the group.

The first of a group's stages to run trains the whole group as packs and keeps its
companions' finished models in a stash (``models/.packed/<lang>/<key>/``), each under a
key of everything that decides it. The companions' stages find theirs there and move it
into place, so a group costs one pack training whichever stage DVC or Ray runs first,
and every stage still writes only its own outputs. A lock per group makes a stage that
starts while its group is training wait for it (``lbb repro`` runs stages side by side).

Where a pack runs member by member (a CPU's ``auto``), a member's model is bitwise its
lone run's, so each stage trains its own language alone: a pack there gains nothing.

Nothing here imports torch: the ``packs`` stage trains nothing.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import bloodbank
from bloodbank.core.errors import BloodbankError
from bloodbank.core.io import exclusive, read_json, write_json


class PackFileError(BloodbankError, ValueError):
    """A pack file that does not describe its language's group."""


def group_size(pack: int, replicates: int) -> int:
    """Languages per group: a pack holds ``train.pack`` trainings, and each language
    brings ``replicates`` of them."""
    return max(1, pack // replicates)


def groups(studied: list[str], *, pack: int, replicates: int) -> list[list[str]]:
    """``studied`` cut, in its order, into groups of ``group_size`` languages."""
    size = group_size(pack, replicates)
    return [list(studied[i : i + size]) for i in range(0, len(studied), size)]


def pack_files(
    studied: list[str], train_sha256: dict[str, str], *, pack: int, replicates: int
) -> dict[str, dict]:
    """Each studied language's pack file: its group, and each member's training arrays'
    hash (``train_sha256``, from the token index)."""
    files = {}
    for members in groups(studied, pack=pack, replicates=replicates):
        hashes = {m: train_sha256[m] for m in members}
        for lang in members:
            files[lang] = {"language": lang, "members": members, "train_sha256": hashes}
    return files


@dataclass(frozen=True)
class Pack:
    """A language's group, as its pack file says."""

    language: str
    members: list[str]
    train_sha256: dict[str, str]


def read_pack(path: Path, language: str) -> Pack:
    found = read_json(path)
    members = found.get("members", [])
    if found.get("language") != language or language not in members:
        raise PackFileError(f"{path}: not the pack of {language}; run `dvc repro`")
    if sorted(found.get("train_sha256", {})) != sorted(members):
        raise PackFileError(f"{path}: its hashes do not name its members; run `dvc repro`")
    return Pack(language, list(members), dict(found["train_sha256"]))


def _digest(root: Path, files: list[Path]) -> str:
    h = hashlib.sha256()
    for path in sorted(files):
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def code_digest() -> str:
    """sha256 of this package's Python sources: a stash written by other code is not
    taken (conservative: any edit to the package counts)."""
    root = Path(bloodbank.__file__).parent
    return _digest(root, list(root.rglob("*.py")))


def folder_digest(folder: Path) -> str:
    return _digest(folder, [p for p in folder.rglob("*") if p.is_file()])


def member_key(
    pack: Pack, member: str, *, test_sha256: str, settings: str, tokenizer: str, code: str
) -> str:
    """The key of ``member``'s model trained in ``pack``'s group: the group and its
    training arrays, the member's test arrays (its score), the recipe (its settings
    file's text), the tokenizer's and the code's digests."""
    spec = {
        "members": pack.members,
        "train_sha256": pack.train_sha256,
        "member": member,
        "test_sha256": test_sha256,
        "settings": settings,
        "tokenizer": tokenizer,
        "code": code,
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:32]


def key_maker(
    pack: Pack, test_sha256: dict[str, str], *, settings: Path, tokenizer: Path
) -> Callable[[str], str]:
    """``member_key`` for each member of ``pack``, its digests computed once, on first
    use (a stage whose packs run member by member never needs them)."""

    @functools.cache
    def digests() -> tuple[str, str, str]:
        return settings.read_text(encoding="utf-8"), folder_digest(tokenizer), code_digest()

    def key(member: str) -> str:
        if member not in test_sha256:
            raise PackFileError(f"{member}: not in the token index; run `dvc repro`")
        text, tok, code = digests()
        return member_key(
            pack, member, test_sha256=test_sha256[member], settings=text, tokenizer=tok, code=code
        )

    return key


@dataclass(frozen=True)
class Entry:
    """A finished model in the stash, with what its own stage records of it."""

    folder: Path
    results: dict
    timing: dict
    log: list  # [metrics, step] pairs, as the training logged them

    def move_model(self, out: Path) -> None:
        """Rename the checkpoint onto ``out`` (one file system: no copy), then drop the
        entry."""
        if out.exists():
            shutil.rmtree(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.folder / "model", out)
        shutil.rmtree(self.folder, ignore_errors=True)


@dataclass(frozen=True)
class Stash:
    """Finished models waiting for their own stage: at most one entry per language."""

    root: Path

    def entry(self, lang: str, key: str) -> Path:
        return self.root / lang / key

    def staging(self, lang: str, key: str) -> Path:
        """Where a pack writes ``lang``'s model before its entry is complete."""
        return self.root / lang / f".{key}.tmp"

    def take(self, lang: str, key: str) -> Entry | None:
        folder = self.entry(lang, key)
        if not (folder / "done.json").exists():
            return None
        done = read_json(folder / "done.json")
        return Entry(folder, done["results"], done["timing"], done["log"])

    def put(self, lang: str, key: str, *, results: dict, timing: dict, log: list) -> None:
        """Complete ``lang``'s staged entry: its record written last, then one rename;
        every other entry of ``lang`` (older keys, killed stagings) goes."""
        staged = self.staging(lang, key)
        write_json(staged / "done.json", {"results": results, "timing": timing, "log": log})
        final = self.entry(lang, key)
        if final.exists():
            shutil.rmtree(final)
        os.replace(staged, final)
        for other in (self.root / lang).iterdir():
            if other != final:
                shutil.rmtree(other, ignore_errors=True)

    def lock(self, members: list[str]) -> AbstractContextManager[None]:
        """One group trains at a time: a stage that finds its group's lock held waits,
        then finds its model in the stash."""
        name = hashlib.sha256(",".join(members).encode()).hexdigest()[:16]
        return exclusive(self.root / ".locks" / f"{name}.lock")
