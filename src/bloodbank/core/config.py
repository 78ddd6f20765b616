"""Typed, validated view of params.yaml.

Every section is a pydantic model that forbids unknown keys, so a typo, a wrong
type or an unknown language code fails at load time with one message naming
it. Stages read params.yaml directly (``dvc.api.params_show`` costs seconds per
call once the pipeline has hundreds of stages).
"""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    ValidationError,
    model_validator,
)

from bloodbank.core.errors import BloodbankError
from bloodbank.core.languages import check_code

LangCode = Annotated[str, AfterValidator(check_code)]
PairCodes = Annotated[list[LangCode], Field(min_length=2, max_length=2)]  # [source, target]


def _placeholders(key: str, pattern: str, allowed: set[str]) -> None:
    """A format string may use only ``allowed`` named fields (no ``{0}``, no stray brace)."""
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(pattern) if f is not None}
    except ValueError as e:
        raise ValueError(f"{key} is not a valid pattern ({e}): {pattern!r}") from None
    unknown = sorted(fields - allowed)
    if unknown:
        named = ", ".join("{" + name + "}" for name in unknown)
        known = ", ".join("{" + name + "}" for name in sorted(allowed))
        raise ValueError(f"{key} may only use {known}, not {named}: {pattern!r}")


class Section(BaseModel):
    # strict: `batch_size: true` or `"32"` is refused, not coerced; no inf or nan anywhere
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class StreamsConfig(Section):
    """``dump.source: wikimedia-streams``: what to fetch of each multistream dump."""

    text_chars: int = Field(
        150_000,
        gt=0,
        description="characters of sentences the sample part must hold: at least "
        "sample.chars_per_language + sample.test_chars",
    )
    margin: float = Field(0.1, ge=0, description="extra share of text_chars fetched")
    reference_streams: int = Field(
        32, ge=1, description="streams spread over the dump for the sample statistics"
    )
    reference_run: int = Field(
        4, ge=1, description="consecutive streams taken at each random offset"
    )
    seed: int = Field(0, description="seed of the start and of the reference streams")
    no_range: Literal["error", "whole"] = Field(
        "error",
        description="a mirror that ignores HTTP Range: stop with an error, or download "
        "the whole dump and select the same streams from it",
    )


class DumpConfig(Section):
    source: Literal["synthetic", "local", "wikimedia", "wikimedia-streams"] = Field(
        "synthetic", description="where dumps come from"
    )
    date: str = Field("20211101", description="snapshot date, YYYYMMDD")
    local_pattern: str = Field(
        "dumps/{wiki}wiki-{date}-pages-articles.xml.bz2",
        description="with source=local: path of each dump; {wiki} and {date} are filled in",
    )
    mirror: str = Field(
        "https://dumps.wikimedia.org",
        description="with source=wikimedia: base URL of a dump mirror",
    )
    checksum: Literal["sha1", "md5"] = Field(
        "sha1",
        description="the checksum list the dump is verified against, "
        "<wiki>wiki-<date>-<checksum>sums.txt",
    )
    timeout: float = Field(60.0, gt=0, description="seconds without data before a retry")
    retries: int = Field(5, ge=0, description="reconnections that resume a broken download")
    min_rate: float = Field(
        16.0,
        gt=0,
        description="slowest transfer accepted, KiB/s: a request for N bytes must end within "
        "timeout + N / min_rate seconds, however the mirror sends them",
    )
    max_page_mb: float = Field(
        32.0,
        gt=0,
        description="largest page accepted, MiB of XML (Wikipedia caps an article at 2 MiB "
        "of wikitext); a larger one stops the stage, so memory stays bounded",
    )
    max_stream_mb: float = Field(
        256.0,
        gt=0,
        description="largest bz2 stream of a multistream dump accepted, MiB decompressed "
        "(Wikimedia's hold 100 pages, a few MiB)",
    )
    streams: StreamsConfig = Field(
        StreamsConfig(), description="with source wikimedia-streams: which streams to fetch"
    )

    @model_validator(mode="after")
    def _date_shape(self) -> DumpConfig:
        if not re.fullmatch(r"\d{8}", self.date):
            raise ValueError(f"dump.date must be YYYYMMDD, got {self.date!r}")
        _placeholders("dump.local_pattern", self.local_pattern, {"wiki", "date"})
        return self


class SyntheticConfig(Section):
    world_seed: int = Field(0, description="seed of the synthetic world (lexicons, names)")
    articles: int = Field(400, gt=0, description="articles written per synthetic language")


class ExtractConfig(Section):
    expand_templates: bool = Field(True, description="wikiextractor's template expansion")


class SampleConfig(Section):
    seed: int = Field(
        0,
        description="seed of the sampled start; the data snapshot's own "
        "seed, so that changing the model seed reuses samples and tokenizer",
    )
    chars_per_language: int = Field(
        100_000, gt=0, description="training characters sampled per language (paper: 1e7)"
    )
    test_chars: int = Field(
        20_000, gt=0, description="held-out characters for MRR, after the sample (paper: 1e6)"
    )
    min_sentence_chars: int = Field(10, ge=1, description="shorter sentences are dropped")
    allow_short: bool = Field(False, description="accept languages with too little text")


class StatsConfig(Section):
    reference_sentences: int = Field(
        200_000, gt=0, description="cap on full-corpus sentences used for the EMD reference"
    )


class TokenizerConfig(Section):
    vocab_size: int = Field(8_000, gt=10, description="WordPiece vocabulary (paper: 100,000)")
    min_frequency: int = Field(3, ge=1, description="a merge must occur this often")
    limit_alphabet: int = Field(5_000, gt=0, description="initial characters kept, most frequent")
    lowercase: bool = Field(False, description="lowercase before tokenizing")
    strip_accents: bool = Field(False, description="True would strip Indic vowel signs")
    max_input_chars_per_word: int = Field(100, gt=0, description="longer words become [UNK]")


class ModelConfig(Section):
    """The BERT masked LM; small by default so that a CPU runs the pipeline in minutes.
    The study's (section 4.1) is configs/paper.yaml's: 4 layers, 4 heads, hidden 512."""

    hidden_size: int = Field(128, gt=0, description="width of every layer (paper: 512)")
    num_layers: int = Field(2, gt=0, description="transformer layers (paper: 4)")
    num_heads: int = Field(2, gt=0, description="attention heads (paper: 4)")
    intermediate_size: int = Field(512, gt=0, description="feed-forward width (paper: 2048)")
    max_position_embeddings: int = Field(128, gt=0, description="positions (paper: 512)")
    dropout: float = Field(0.1, ge=0, lt=1, description="hidden and attention dropout")

    @model_validator(mode="after")
    def _heads_divide_hidden(self) -> ModelConfig:
        if self.hidden_size % self.num_heads:
            raise ValueError(
                f"model.hidden_size ({self.hidden_size}) must be divisible by "
                f"model.num_heads ({self.num_heads})"
            )
        return self


class TrainConfig(Section):
    """The masked-LM recipe of every training (mono, pair, pretrain): every key changes
    the trained weights, so the stages declare this section whole. Optimiser defaults
    are transformers.Trainer's (AdamW, linear decay)."""

    max_length: int = Field(128, gt=2, description="sentences are truncated to this many tokens")
    batch_size: int = Field(32, gt=0, description="sentences per optimiser step (paper: 8)")
    epochs: float = Field(4, gt=0, le=100_000, description="passes over the sample (paper: 4)")
    max_steps: int | None = Field(None, gt=0, description="debug cap on optimiser steps")
    lr: float = Field(1e-3, gt=0, description="peak learning rate (paper: 5e-5)")
    weight_decay: float = Field(0.0, ge=0, description="AdamW's decoupled weight decay")
    warmup_steps: int = Field(0, ge=0, description="linear warm-up before the linear decay")
    adam_epsilon: float = Field(1e-8, gt=0, description="AdamW's epsilon")
    max_grad_norm: float = Field(1.0, gt=0, description="gradient clipping norm")
    mlm_probability: float = Field(0.15, gt=0, lt=1, description="share of tokens masked")
    mask_token_fraction: float = Field(0.8, ge=0, le=1, description="of masked: [MASK]")
    random_token_fraction: float = Field(0.1, ge=0, le=1, description="of masked: random")
    threads: int = Field(2, ge=1, description="CPU threads; results depend on it, so pinned")
    pack: int = Field(
        4,
        ge=1,
        description="trainings of one shape run as one packed model (torch.func): a pair "
        "stage packs its targets, the mono models pack in groups of pack // replicates "
        "languages (the packs stage), a run its replicates. Each trains as it would alone: "
        "bitwise when its members run one after another, to float rounding when batched",
    )
    pack_kernels: Literal["auto", "batched", "each"] = Field(
        "auto",
        description="how a pack runs: batched = one vmapped model (padded to one shape), "
        "each = its members one after another; auto = batched on CUDA, each on a CPU, "
        "where batched kernels gain nothing (docs/gpus.md)",
    )
    precision: Literal["fp32", "bf16", "auto"] = Field(
        "fp32",
        description="fp32 (default) computes the same on every machine; bf16 "
        "autocasts training (evaluation stays fp32) and is faster on hardware with native "
        "bf16; auto = bf16 where the hardware has it, so results depend on the machine",
    )

    @model_validator(mode="after")
    def _fractions(self) -> TrainConfig:
        if self.mask_token_fraction + self.random_token_fraction > 1:
            raise ValueError(
                "train.mask_token_fraction + train.random_token_fraction must not exceed 1"
            )
        return self


class PairRecipe(Section):
    """What sets a pair training apart from ``train``. By default a pair adapts s's model
    to t briefly (half an epoch at a tenth of the rate), so F says how well s's model
    already fits t and F(t→t) is near 0 (docs: synthetic worlds, "Adapting briefly").
    Null, a pair trains s's model on t with the mono recipe, as the study did
    (``configs/study-recipe.yaml``)."""

    epochs: float | None = Field(
        0.5, gt=0, le=100_000, description="epochs of each pair training (null: train.epochs)"
    )
    lr: float | None = Field(
        1e-4, gt=0, description="peak learning rate of each pair training (null: train.lr)"
    )

    @property
    def own(self) -> bool:
        """Whether pairs train with a recipe of their own."""
        return self.epochs is not None or self.lr is not None

    def apply(self, train: TrainConfig) -> TrainConfig:
        """The recipe a pair trains with: ``train``, with these keys where they are set."""
        update = {k: v for k, v in self.model_dump().items() if v is not None}
        return train.model_copy(update=update)


class EvalConfig(Section):
    batch_size: int = Field(64, gt=0, description="sentences per evaluation batch, at most")
    max_tokens: int = Field(4096, gt=0, description="padded positions per batch, at most")
    bootstrap: int = Field(1000, ge=0, description="resamples for the MRR confidence interval")
    mask_seed: int = Field(
        0,
        ge=0,
        description="seed of the test masks and the bootstrap: fixed when `seed` changes, so "
        "that two seeds differ in training only and are scored on the very same inputs",
    )
    passes: int = Field(
        4,
        ge=1,
        description="independent mask draws of the test set, averaged: each pass scores "
        "another 15% of its tokens, cutting the evaluation's sampling error (pass 0 is the "
        "single draw of passes=1)",
    )
    masking: Literal["random", "partition"] = Field(
        "random",
        description="random: each pass masks a random 15% of the tokens (BERT's, the study's); "
        "partition: each pass deals every token to one of ceil(1/mlm_probability) masks, so "
        "every token is scored exactly once per pass (no sampling of which tokens count; "
        "about 7x the evaluation time of one random pass)",
    )


class GraphConfig(Section):
    baseline: Literal["mono", "matched"] = Field(
        "mono",
        description="F against M_t (the study's equation 4) or against the compute-matched M_tt",
    )
    bins: list[float] = Field(
        [-10.0, 10.0, 55.0],
        description="borders of the negative, "
        "neutral, positive and very positive transfer bins (F in %)",
    )
    resamples: int = Field(9999, gt=0, description="Monte Carlo tables for Fisher's exact test")

    @model_validator(mode="after")
    def _three_increasing(self) -> GraphConfig:
        if len(self.bins) != 3 or sorted(set(self.bins)) != self.bins:
            raise ValueError(f"bins must be 3 increasing borders, got {self.bins}")
        return self


class PairsConfig(Section):
    """Which ordered pairs get a pair training (see ``graph.design``)."""

    design: Literal["all", "balanced"] | list[PairCodes] = Field(
        "all",
        description="all n(n-1) pairs (the study), a balanced seeded subset, "
        "or an explicit list of [source, target]",
    )
    fraction: float = Field(
        0.3, gt=0, le=1, description="balanced: the share of the pairs to train"
    )
    seed: int = Field(0, description="balanced: seed of the design")
    extra: list[PairCodes] = Field(
        [], description="pairs added to the design (`lbb next-pairs N --append`)"
    )
    matched_diagonal: bool = Field(
        False,
        description="also train t on t again: the compute-matched baseline F(t->t) (near 0 "
        "under a brief pair recipe, so off by default)",
    )


class ProxiesConfig(Section):
    """Evidence about every pair that needs no pair training: the zeroshot stages (each
    mono model scored on every studied language) and the overlap stage (shared tokens)."""

    sentences: int | None = Field(
        200,
        ge=1,
        description="test sentences of each language that every mono model is scored on, "
        "the first of the split (null: the whole split)",
    )
    passes: int = Field(
        1, ge=1, description="mask draws of those sentences (the same masks as pass 0 of eval)"
    )


class EstimateConfig(Section):
    """Completing F from the measured pairs (``graph.estimate``); idle with design all."""

    ranks: list[int] = Field(
        [0, 1, 2], min_length=1, description="interaction ranks cross-validation chooses from"
    )
    shrinks: list[float] = Field(
        [0.3, 1.0, 3.0, 10.0],
        min_length=1,
        description="interaction penalties tried, in units of the measured cells' sd",
    )
    effects: list[float] = Field(
        [1.0, 3.0, 10.0],
        description="penalties tried on the language effects around the covariates, in "
        "cells ([] leaves them free)",
    )
    covariate_shrinks: list[float] = Field(
        [0.1, 1.0, 10.0, 100.0],
        description="penalties tried on the covariates' coefficients besides none, per "
        "measured cell (c shrinks a standardised covariate's by 1/(1+c)); [] leaves them "
        "free. The mild 0.1 serves several proxies fitted on few cells (docs: fewer pairs)",
    )
    folds: int = Field(5, ge=2, description="cross-validation folds")
    draws: int = Field(200, ge=10, description="bootstrap draws for the intervals")
    covariates: bool = Field(
        True,
        description="shared script, shared family, URIEL syntactic distance and "
        "monolingual MRR as covariates",
    )
    proxies: bool = Field(
        True,
        description="zero-shot fit and lexical overlap (metrics/zeroshot, "
        "metrics/overlap.csv) as covariates too",
    )

    @model_validator(mode="after")
    def _valid(self) -> EstimateConfig:
        if any(r < 0 for r in self.ranks) or any(c <= 0 for c in self.shrinks):
            raise ValueError("ranks must be >= 0 and shrinks > 0")
        if any(e <= 0 for e in self.effects) or any(c <= 0 for c in self.covariate_shrinks):
            raise ValueError("effects and covariate_shrinks penalties must be > 0")
        return self


class SetSizes(Section):
    donors: int = Field(1, ge=1, description="languages in each donor set (paper: 4)")
    most_recipient: int = Field(1, ge=1, description="size of Rh (paper: 3)")
    least_recipient: int = Field(1, ge=1, description="size of Rl (paper: 3)")


class ExplicitSets(Section):
    """Sets given by hand; each one given replaces the computed one."""

    most: list[LangCode] | None = Field(None, description="the Most donor set")
    least: list[LangCode] | None = Field(None, description="the Least donor set")
    random: list[LangCode] | None = Field(None, description="the Random donor set")
    most_recipient: list[LangCode] | None = Field(None, description="Rh, the test languages")
    least_recipient: list[LangCode] | None = Field(None, description="Rl, the test languages")


class FinetuneConfig(Section):
    """Token classification; configs/paper.yaml has XTREME's recipe."""

    epochs: int = Field(4, gt=0, description="passes over the task's train split (paper: 10)")
    batch_size: int = Field(8, gt=0, description="sentences per step (paper: 32)")
    lr: float = Field(1e-3, gt=0, description="peak learning rate (paper: 2e-5)")
    weight_decay: float = Field(0.0, ge=0, description="AdamW's decoupled weight decay")
    max_length: int = Field(128, ge=8, description="word pieces per sentence, with specials")
    seeds: int = Field(
        2,
        ge=1,
        description="finetuning seeds per model (paper: 5); they derive from the top-level seed",
    )


class DownstreamConfig(Section):
    sizes: SetSizes = Field(SetSizes(), description="how many languages each set holds")
    diversity: Literal["none", "family", "script", "family_and_script"] = Field(
        "family_and_script", description="no two donors of a set may share this"
    )
    select_seed: int = Field(0, description="seed of the Random donor set")
    preset: Literal["none", "paper"] = Field("none", description="paper = Table 2's sets")
    explicit: ExplicitSets = Field(
        ExplicitSets(), description="sets given by hand, e.g. {most: [ja, te, fi, ru]}"
    )
    total_chars: int = Field(
        240_000,
        gt=0,
        description="pretraining characters per "
        "configuration, spread evenly over its languages (paper: 1e8)",
    )
    tasks: list[Literal["pos", "ner"]] = Field(["pos", "ner"], description="tasks finetuned")
    source: Literal["synthetic", "local", "ud"] = Field(
        "synthetic",
        description="downstream data: generated, files in XTREME's layout, or "
        "a UD release download (POS) with local WikiANN files (NER)",
    )
    local_dir: str = Field("downloads", description="XTREME-layout folder for source local/ud")
    ud_url: str = Field("", description="URL of a UD release .tgz, for source ud")
    ud_sha256: str = Field("", description="its SHA-256; empty skips the check")
    max_sentences: dict[Literal["pos", "ner"], PositiveInt] = Field(
        {"pos": 300, "ner": 300},
        description="train sentences kept per language (paper: pos 1000, ner 5000)",
    )
    eval_sentences: int = Field(150, gt=0, description="dev and test sentences per language")
    finetune: FinetuneConfig = Field(FinetuneConfig(), description="the finetuning recipe")


class TrackingConfig(Section):
    experiment: str = Field("bloodbank", description="MLflow experiment of every stage run")
    enabled: bool = Field(True, description="log each stage run to MLflow")


class RuntimeConfig(Section):
    """How the pipeline runs, not what it computes: no stage declares this section, so
    editing it reruns nothing. The device used is recorded in each model's metrics."""

    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="where models train: auto = cuda when present, else cpu"
    )
    log_every: int = Field(20, gt=0, description="steps between logged loss points")
    checkpoint_every: int = Field(50, gt=0, description="steps between resumable checkpoints")
    extract_processes: int = Field(1, ge=1, description="wikiextractor worker processes")
    tracking: TrackingConfig = Field(TrackingConfig(), description="MLflow")


class Params(Section):
    """params.yaml: the embedded default's values are the defaults below; a configuration
    in configs/ is an overlay of what it changes (``lbb config --use NAME``)."""

    seed: int = Field(
        0,
        description="seed of every stochastic training step (initialisation, masking, "
        "batches, dropout): `dvc exp run -S seed=2` gives another, equally reproducible run "
        "that reuses the data and the tokenizer (sample.seed)",
    )
    replicates: int = Field(
        1,
        ge=1,
        description="trainings per mono model and per pair, seeds derived from `seed` "
        "(replicate 0 uses `seed` itself): F is read from their mean MRR",
    )
    languages: list[LangCode] = Field(
        ["qaa", "qau", "qav", "qac", "qbf", "qas"],
        min_length=1,
        description="every language dumped, sampled and fed to the tokenizer",
    )
    studied: list[LangCode] = Field(
        ["qaa", "qau", "qav", "qac", "qbf", "qas"],
        min_length=1,
        description="the languages models are trained on (the study's 22)",
    )
    dump: DumpConfig = Field(DumpConfig(), description="where the Wikipedia dumps come from")
    synthetic: SyntheticConfig = Field(SyntheticConfig(), description="the synthetic world")
    extract: ExtractConfig = Field(ExtractConfig(), description="plain text from the dumps")
    sample: SampleConfig = Field(SampleConfig(), description="the balanced sample")
    stats: StatsConfig = Field(StatsConfig(), description="sample statistics")
    tokenizer: TokenizerConfig = Field(TokenizerConfig(), description="the shared WordPiece")
    model: ModelConfig = Field(ModelConfig(), description="the BERT masked LM")
    train: TrainConfig = Field(TrainConfig(), description="the training recipe")
    pair_recipe: PairRecipe = Field(
        PairRecipe(), description="a pair training's own epochs and rate (null: train's)"
    )
    eval: EvalConfig = Field(EvalConfig(), description="scoring a model by MRR")
    pairs: PairsConfig = Field(
        PairsConfig(),
        description="which ordered pairs get a pair training (`lbb pairs` shows the plan)",
    )
    proxies: ProxiesConfig = Field(
        ProxiesConfig(), description="cheap evidence about every pair, no pair training"
    )
    estimate: EstimateConfig = Field(
        EstimateConfig(), description="completing F where pairs were not trained"
    )
    graph: GraphConfig = Field(GraphConfig(), description="the blood bank read from F")
    downstream: DownstreamConfig = Field(
        DownstreamConfig(), description="zero-shot POS and NER (the study's section 6)"
    )
    runtime: RuntimeConfig = Field(RuntimeConfig(), description="settings that rerun nothing")

    @model_validator(mode="after")
    def _languages_consistent(self) -> Params:
        for name in ("languages", "studied"):
            codes = getattr(self, name)
            dupes = sorted({c for c in codes if codes.count(c) > 1})
            if dupes:
                raise ValueError(f"{name} lists {', '.join(dupes)} more than once")
        missing = [c for c in self.studied if c not in self.languages]
        if missing:
            raise ValueError(f"studied languages {missing} must also be in languages")
        if self.graph.baseline == "matched" and not self.pairs.matched_diagonal:
            raise ValueError(
                "graph.baseline: matched needs the diagonal it is read from "
                "(pairs.matched_diagonal: true)"
            )
        need = self.sample.chars_per_language + self.sample.test_chars
        if self.dump.source == "wikimedia-streams" and self.dump.streams.text_chars < need:
            raise ValueError(
                f"dump.streams.text_chars ({self.dump.streams.text_chars:,}) must be at least "
                f"sample.chars_per_language + sample.test_chars ({need:,})"
            )
        return self


class ConfigError(BloodbankError, ValueError):
    """params.yaml is invalid; the message names the offending key."""


def format_errors(err: ValidationError, path: Path) -> str:
    """pydantic's errors as one line naming each key, after the file they came from."""
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        lines.append(f"{loc}: {msg}")
    return f"{path}: invalid params: " + "; ".join(lines)


def load_params(path: str | Path | None = None) -> Params:
    """Load and validate params.yaml (default: the working copy's, in the current folder).

    Never ``$DVC_ROOT``: under ``dvc exp run --queue`` a stage runs in a copy below
    ``.dvc/tmp/exps`` with the experiment's params, while DVC_ROOT names the main
    repository and its params.
    """
    path = Path(path or "params.yaml")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: not found (run from the repository root)") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    try:
        return Params.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(format_errors(e, path)) from None
