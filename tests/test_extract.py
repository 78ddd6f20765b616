import json
import random
from pathlib import Path

from bloodbank.core.config import SampleConfig
from bloodbank.data.extraction import extract_dump, iter_documents
from bloodbank.data.sampling import language_sentences, sample_language
from bloodbank.data.synthetic.wikidump import write_dump

GENSIM_DATA = Path(__import__("gensim").__file__).parent / "test" / "test_data"
ENWIKI = GENSIM_DATA / "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"

MARKUP = ("[[", "]]", "'''", "{{", "}}", "<ref", "</ref>", "Category:", "{|", "|}", "==")


def test_synthetic_dump_is_cleaned_by_wikiextractor(tmp_path):
    dump = write_dump(
        tmp_path / "qaawiki-20211101-pages-articles.xml.bz2", "qaa", 0, 40, "20211101"
    )
    out = tmp_path / "qaa.jsonl.gz"
    kept = extract_dump(dump, out)
    docs = list(iter_documents(out))
    assert kept == len(docs) > 30
    text = "\n".join(d.text for d in docs)
    for markup in MARKUP:
        assert markup not in text, markup
    assert not any(d.title.startswith(("Template:", "Wikipedia:", "Category:")) for d in docs)
    assert all(not d.text.startswith(d.title + "\n") for d in docs)  # title line dropped


def test_extraction_output_is_byte_reproducible(tmp_path):
    dump = write_dump(
        tmp_path / "qabwiki-20211101-pages-articles.xml.bz2", "qab", 0, 20, "20211101"
    )
    extract_dump(dump, tmp_path / "a.jsonl.gz")
    extract_dump(dump, tmp_path / "b.jsonl.gz")
    assert (tmp_path / "a.jsonl.gz").read_bytes() == (tmp_path / "b.jsonl.gz").read_bytes()


def test_real_wikipedia_excerpt_extracts_and_samples(tmp_path):
    """gensim's wheel ships a shortened real enwiki dump: run the real path on it."""
    out = tmp_path / "en.jsonl.gz"
    kept = extract_dump(ENWIKI, out)
    docs = list(iter_documents(out))
    assert kept == len(docs) > 100
    assert any(d.title == "Anarchism" for d in docs)
    text = "\n".join(d.text for d in docs[:20])
    for markup in ("[[", "{{", "<ref", "'''"):
        assert markup not in text, markup
    cfg = SampleConfig(chars_per_language=200_000, test_chars=20_000, seed=3)
    res = sample_language("en", out, tmp_path / "train.txt", tmp_path / "test.txt", cfg)
    lines = (tmp_path / "train.txt").read_text().splitlines()
    assert sum(map(len, lines)) == res.train_chars >= 200_000
    assert res.corpus.chars > 2_000_000
    assert sum(line[-1] in ".!?\"')" for line in lines) / len(lines) > 0.8
    # The block is consecutive in the corpus.
    corpus = list(language_sentences(out, cfg.min_sentence_chars)())
    start = corpus.index(lines[0])
    assert corpus[start : start + len(lines)] == lines


def test_sampling_is_seeded(tmp_path):
    dump = write_dump(
        tmp_path / "qacwiki-20211101-pages-articles.xml.bz2", "qac", 0, 60, "20211101"
    )
    text = tmp_path / "qac.jsonl.gz"
    extract_dump(dump, text)
    outs = []
    for seed in (0, 0, 1):
        d = tmp_path / f"s{seed}-{random.random()}"
        cfg = SampleConfig(chars_per_language=8000, test_chars=2000, seed=seed)
        sample_language("qac", text, d / "train.txt", d / "test.txt", cfg)
        outs.append((d / "train.txt").read_text() + (d / "test.txt").read_text())
    assert outs[0] == outs[1] != outs[2]
    assert json.dumps(outs[0], ensure_ascii=False).count("\\n") > 50
