"""Where every artifact lives, relative to the repository root (mirrors dvc.yaml)."""

from __future__ import annotations

from pathlib import Path

# The pipelines: the transfer graph (what `dvc repro` runs) and the downstream study
# (what `dvc repro -P` adds), each with its own dvc.lock.
PIPELINES = ("dvc.yaml", "downstream/dvc.yaml")

DATA = Path("data")
MODELS = Path("models")
METRICS = Path("metrics")


def dump_filename(wiki: str, date: str) -> str:
    """Wikimedia's own name for a pages-articles dump, kept for local and mirrored files."""
    return f"{wiki}wiki-{date}-pages-articles.xml.bz2"


def dump(code: str, date: str) -> Path:
    """The pinned dump of a language, named by the project's code as dvc.yaml names it
    (``gswwiki-…`` for the edition ``als``), not by the edition's prefix."""
    return DATA / "dumps" / dump_filename(code, date)


def dump_manifest(code: str, date: str) -> Path:
    """What the dump stage fetched: source, URLs, and for a streams snapshot its parts."""
    return DATA / "dumps" / f"{code}wiki-{date}-manifest.json"


def text(code: str) -> Path:
    return DATA / "text" / f"{code}.jsonl.gz"


def sample(code: str, split: str) -> Path:
    return DATA / "samples" / split / f"{code}.txt"


def sample_meta(code: str) -> Path:
    return DATA / "samples" / "meta" / f"{code}.json"


TOKENIZER = MODELS / "tokenizer"
TOKENIZER_METRICS = METRICS / "tokenizer.json"


def stats(code: str) -> Path:
    return METRICS / "samples" / f"{code}.json"


def tokens(code: str) -> Path:
    return DATA / "tokens" / code


# The settings stage's output: per kind of fanned-out stage, the values of the keys that
# change its results (bloodbank.core.settings), what those stages depend on instead of
# declaring params.yaml keys
SETTINGS = METRICS / "settings"

# One row per studied language: the hash of its token arrays (the token_index stage's
# output), what the stages reading other languages' arrays depend on instead of data/tokens
TOKEN_INDEX = METRICS / "tokens.csv"


def mono_model(code: str) -> Path:
    return MODELS / "mono" / code


def pair_models(src: str) -> Path:
    """The pair stage of ``src``'s output: one checkpoint per planned target."""
    return MODELS / "pairs" / src


def pair_model(src: str, tgt: str) -> Path:
    return pair_models(src) / tgt


def mono_metrics(code: str) -> Path:
    return METRICS / "mono" / f"{code}.json"


def pair_metrics(src: str) -> Path:
    """Results of every pair of ``src``, by target."""
    return METRICS / "pairs" / f"{src}.json"


PLAN = METRICS / "plan"  # the plan stage's output: what each pair stage trains


def plan_file(src: str) -> Path:
    """``src``'s planned targets: the one part of the plan its pair stage depends on."""
    return PLAN / f"{src}.json"


PACKS = METRICS / "packs"  # the packs stage's output: which mono models train together


def pack_file(code: str) -> Path:
    """``code``'s mono group and its members' hashes: what its mono stage depends on."""
    return PACKS / f"{code}.json"


ZEROSHOT = METRICS / "zeroshot"  # the zeroshot stages' outputs, one file per source


def zeroshot_metrics(src: str) -> Path:
    """MRR of src's mono model on every studied language's first test sentences."""
    return ZEROSHOT / f"{src}.json"


OVERLAP = METRICS / "overlap.csv"  # token-distribution overlap of every two languages
ESTIMATE_DIR = METRICS / "estimate"  # completed matrices, intervals, the measured mask
ESTIMATE_METRICS = METRICS / "estimate.json"


RESUME = MODELS / ".resume"  # resumable checkpoints, outside every stage's outputs
PACKED = MODELS / ".packed"  # mono models trained in another member's stage, until taken


def resume(stage: str, name: str) -> Path:
    """Where a training stage keeps its resumable checkpoint while it runs."""
    return RESUME / f"{stage}-{name}"


MASKS = Path(".cache/masks")  # test masks drawn once per machine (bloodbank.mlm.evaluation)

LOGS = Path("logs")  # untracked by git and DVC: what differs from run to run


def timings(stage: str, name: str) -> Path:
    """Seconds and throughput of one training stage: no DVC output and ignored by git, so
    a rerun leaves the tree clean (MLflow holds them too)."""
    return LOGS / "timings" / stage / f"{name}.json"


SCORES = METRICS / "finetune_scores.csv"
SCORES_MATCHED = METRICS / "finetune_scores_matched.csv"
SCORES_BY_BASELINE = {"mono": SCORES, "matched": SCORES_MATCHED}  # graph.baseline
MRR_MATRIX = METRICS / "mrr.csv"
SCORES_SUMMARY = METRICS / "scores.json"
TRUTH = METRICS / "truth.csv"  # the planted transfer truth of a synthetic world
GRAPH_METRICS = METRICS / "graph.json"
REPORTS = Path("reports")
GRAPH_REPORT = REPORTS / "graph.md"
GRAPH_DIR = REPORTS / "graph"  # figures, GraphML, node-link JSON, tidy CSVs

# downstream
SETS = METRICS / "sets.json"
DOWNSTREAM_DATA = DATA / "downstream"  # <task>/<lang>/{train,dev,test}.tsv
DOWNSTREAM_METRICS = METRICS / "downstream.json"
TABLES_REPORT = REPORTS / "tables.md"


def pretrain_sample(code: str) -> Path:
    return DATA / "samples" / "pretrain" / f"{code}.txt"


def pretrain_model(config: str) -> Path:
    return MODELS / "pretrain" / config


def pretrain_metrics(config: str) -> Path:
    return METRICS / "pretrain" / f"{config}.json"


def task_split(task: str, code: str, split: str) -> Path:
    return DOWNSTREAM_DATA / task / code / f"{split}.tsv"


def finetune_metrics(config: str, task: str) -> Path:
    return METRICS / "finetune" / f"{config}-{task}.json"
