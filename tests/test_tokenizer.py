import hashlib
import json
import os
import subprocess
import sys

import pytest
from transformers import AutoTokenizer

from bloodbank.core.config import TokenizerConfig
from bloodbank.data.sample_stats import tokenizer_report
from bloodbank.data.synthetic.grammar import Grammar, surface
from bloodbank.data.synthetic.world import rng_for
from bloodbank.data.tokenizer import (
    SPECIAL_TOKENS,
    choose_alphabet,
    save_tokenizer,
    train_tokenizer,
)

CFG = TokenizerConfig(vocab_size=2500, min_frequency=2)


def corpus(codes=("qaa", "qac", "qae", "qag"), n=800) -> list[str]:
    out = []
    for code in codes:
        g, rng = Grammar(code, 0), rng_for("tok", code)
        out += [surface(g.sentence(rng)) for _ in range(n)]
    return out


TRAIN_SCRIPT = """
import sys
from pathlib import Path
from bloodbank.core.config import TokenizerConfig
from bloodbank.data.tokenizer import save_tokenizer, train_tokenizer
lines = Path(sys.argv[1]).read_text().splitlines()
cfg = TokenizerConfig(vocab_size=2500, min_frequency=2)
save_tokenizer(train_tokenizer(lambda: iter(lines), cfg), Path(sys.argv[2]), cfg)
"""


@pytest.mark.slow
def test_training_is_byte_identical_across_processes(tmp_path):
    """tokenizers#1794: the raw trainer varies from process to process; ours must not."""
    (tmp_path / "corpus.txt").write_text("\n".join(corpus()))
    digests = set()
    for i, threads in enumerate(["1", "2", "2", "1"]):
        env = {**os.environ, "PYTHONHASHSEED": str(i), "RAYON_NUM_THREADS": threads}
        out = tmp_path / f"tok{i}"
        subprocess.run(
            [sys.executable, "-c", TRAIN_SCRIPT, str(tmp_path / "corpus.txt"), str(out)],
            check=True,
            env=env,
        )
        digests.add(hashlib.sha256((out / "tokenizer.json").read_bytes()).hexdigest())
    assert len(digests) == 1


def test_saved_tokenizer_loads_with_autotokenizer(tmp_path):
    lines = corpus()
    tok = train_tokenizer(lambda: iter(lines), CFG)
    save_tokenizer(tok, tmp_path / "tok", CFG)
    hf = AutoTokenizer.from_pretrained(tmp_path / "tok")
    assert [hf.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS] == [0, 1, 2, 3, 4]
    assert (hf.pad_token_id, hf.mask_token_id) == (0, 4)
    enc = hf(lines[0])["input_ids"]
    assert enc[0] == hf.cls_token_id and enc[-1] == hf.sep_token_id
    assert hf.decode(enc, skip_special_tokens=True) == tok.decode(tok.encode(lines[0]).ids)
    assert len(hf) == 2500


def test_only_real_special_tokens_are_special(tmp_path):
    lines = corpus()
    tok = train_tokenizer(lambda: iter(lines), CFG)
    added = json.loads(tok.to_str())["added_tokens"]
    assert [a["content"] for a in added] == list(SPECIAL_TOKENS)
    # A continuation piece is ordinary vocabulary, never matched whole in raw text.
    assert "##a" in tok.get_vocab()
    assert tok.encode("x ##a", add_special_tokens=False).tokens[-1] == "a"


def test_alphabet_is_frequency_ranked_with_code_point_ties():
    cfg = TokenizerConfig(limit_alphabet=3)
    # b and c tie on 2; a wins on frequency; c loses the tie to b.
    assert choose_alphabet(["aaa b c", "b c d"], cfg) == ["a", "b", "c"]


def test_report_gives_information_ratio_per_language(tmp_path):
    lines = corpus(("qaa", "qae", "qag"), 300)
    tok = train_tokenizer(lambda: iter(lines), CFG)
    paths = {}
    for i, code in enumerate(("qaa", "qae", "qag")):
        paths[code] = tmp_path / f"{code}.txt"
        paths[code].write_text("\n".join(lines[i * 300 : (i + 1) * 300]) + "\n")
    report = tokenizer_report(tok, paths)
    for code in paths:
        lang = report["languages"][code]
        assert lang["information_ratio"] == pytest.approx(lang["tokens"] / lang["unique_tokens"])
    assert report["tokens_vs_unique"]["n"] == 3
    assert -1 <= report["tokens_vs_unique"]["r"] <= 1
