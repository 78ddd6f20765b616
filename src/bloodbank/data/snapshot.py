"""The dump stage's work: a language's pinned snapshot from the configured source.

Four sources (``dump.source``): the synthetic world, a local file, a whole dump from a
Wikimedia mirror (``dumps``), or only the streams of a multistream dump that the
sample and the statistics need (``streams``). Every snapshot gets a manifest beside it:
where it came from, and for a streams snapshot which pages are its sample part and
which its reference part (for the other sources the whole dump is both).
"""

from __future__ import annotations

from pathlib import Path

from bloodbank.core import languages
from bloodbank.core.config import DumpConfig, SyntheticConfig
from bloodbank.core.io import write_json
from bloodbank.core.paths import dump_filename
from bloodbank.data.dumps import (
    DumpError,
    DumpInfo,
    Limits,
    dump_url,
    fetch_local,
    fetch_synthetic,
    fetch_wikimedia,
    inspect_dump,
)
from bloodbank.data.streams import fetch_streams


def fetch_dump(
    code: str, cfg: DumpConfig, synthetic: SyntheticConfig, out: Path, manifest: Path
) -> DumpInfo:
    """Produce the pinned snapshot of ``code`` at ``out`` from the configured source, and
    its manifest (for a streams snapshot: which pages are the sample part and which the
    reference part; for the other sources the whole dump is both)."""
    lang = languages.get(code)
    if (cfg.source == "synthetic") != lang.synthetic:
        kind = "synthetic" if lang.synthetic else "real"
        raise DumpError(
            f"{code}: a {kind} language cannot come from dump.source="
            f"{cfg.source!r} (synthetic codes qaa–qtz need 'synthetic', real "
            "languages 'local', 'wikimedia' or 'wikimedia-streams')"
        )
    record: dict = {"source": cfg.source, "wiki": f"{lang.wiki}wiki", "date": cfg.date}
    if cfg.source == "synthetic":
        fetch_synthetic(out, code, synthetic.world_seed, synthetic.articles, cfg.date)
        record["synthetic"] = synthetic.model_dump()
    elif cfg.source == "local":
        fetch_local(out, cfg.local_pattern, lang.wiki, cfg.date, max_page_mb=cfg.max_page_mb)
        record["path"] = cfg.local_pattern.format(wiki=lang.wiki, date=cfg.date)
    elif cfg.source == "wikimedia":
        fetch_wikimedia(out, lang.wiki, cfg)
        record["url"] = dump_url(
            cfg.mirror, lang.wiki, cfg.date, dump_filename(lang.wiki, cfg.date)
        )
    else:
        record = fetch_streams(
            out,
            lang.wiki,
            cfg.date,
            mirror=cfg.mirror,
            cfg=cfg.streams,
            algo=cfg.checksum,
            timeout=cfg.timeout,
            retries=cfg.retries,
            limits=Limits.of(cfg),
        ).manifest
    try:
        info = inspect_dump(out, f"{lang.wiki}wiki", max_page_mb=cfg.max_page_mb)
    except DumpError:
        out.unlink(missing_ok=True)
        raise
    record.setdefault("pages", None)
    write_json(manifest, record)
    return info
