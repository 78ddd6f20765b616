"""Do the models know who goes with whom, and does a relative teach it? (the knowledge world)

In a family with collocations (`collocation` in `bloodbank.core.synthetic_spec`, the
Kelic languages of `configs/synthetic-knowledge.yaml`) each verb mostly takes one object
noun. This benchmark asks a trained model to pick that noun: for every verb it scores
the sentence "<Pronoun> <verb>ed [MASK ...] ." with the verb's partner and with
`--candidates - 1` other nouns of the target's lexicon (each noun's word pieces all
masked; score = the sum of their log-probabilities) and counts how often the partner
scores highest (chance: 1 / candidates). It does so for:

  untrained       the target's initialisation (the floor)
  mono T          the target's mono model (what its own text teaches)
  mono S          the source's mono model, on the target's probes
  pair S->T       the source's model trained on the target (what the pair stage scores)
  pair T->T       the target's model trained on itself again (the compute-matched baseline)

by verb frequency band (verbs are drawn with Zipf probabilities by rank, the same ranks
in every language of the family) and over the verbs whose partner pair the source writes
exactly as the target does (the pairs a relative could teach). Models are trained as
the stages train them (`bench/inprocess.py`), so they are the pipeline's models.

Reads the token arrays and tokenizer of the repository it runs in: run it in a clone
configured with `lbb config --use synthetic-knowledge && dvc repro tokenize`. Figures
are quality, not time.

    python bench/bench_collocations.py --target qax --source qay
"""

from __future__ import annotations

import argparse
import copy
import random
import time

import pandas as pd
import torch
from inprocess import changed_params, fit, fresh_model
from tokenizers import Tokenizer

from bloodbank.core import paths
from bloodbank.core.config import load_params
from bloodbank.data.synthetic.grammar import Grammar
from bloodbank.data.synthetic.world import LEXICON_SIZES, collocations
from bloodbank.data.token_ids import load_split
from bloodbank.data.tokenizer import load_tokenizer

BANDS = {
    "head (ranks 0-49)": range(50),
    "mid (50-149)": range(50, 150),
    "tail (150-299)": range(150, 300),
}


class Prober:
    """Scores nouns in the object slot of a verb, in the target's own words."""

    def __init__(self, target: str, tok: Tokenizer, world_seed: int) -> None:
        self.g = Grammar(target, world_seed)
        if self.g.lang.collocation <= 0:
            raise SystemExit(
                f"{target} has no collocations (family {self.g.lang.family}); "
                "use a language of configs/synthetic-knowledge.yaml"
            )
        self.partner = collocations(self.g.lang.family, world_seed).object_of_verb
        self.tok = tok
        self.mask = tok.token_to_id("[MASK]")
        self.cls, self.sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
        self.stop = [*self._ids(self.g.render.spec.full_stop), self.sep]

    def _ids(self, text: str) -> list[int]:
        return self.tok.encode(text, add_special_tokens=False).ids

    def noun(self, rank: int) -> str:
        return self.g.render(self.g.lex.words["NOUN"][rank])

    def prefix(self, verb: int) -> str:
        """'<Pronoun> <verb in the past>': a clause whose object slot comes next."""
        g = self.g
        pron = g.render(g.lex.words["PRON"][0], capital=True)
        return f"{pron} {g.render(g._inflect(g.lex.words['VERB'][verb], g.lex.past))}"

    @torch.no_grad()
    def score(self, model, head: list[int], noun: str) -> float:
        """log P(noun's pieces | head, the full stop), every piece of the noun masked
        (``head``: [CLS] and the prefix's ids)."""
        pieces = self._ids(noun)
        x = torch.tensor([[*head, *[self.mask] * len(pieces), *self.stop]])
        logp = model(input_ids=x).logits.log_softmax(-1)[0]
        return sum(logp[len(head) + i, p].item() for i, p in enumerate(pieces))

    def accuracy(self, model, verbs: list[int], candidates: int, seed: int) -> float:
        """Share of ``verbs`` whose partner outscores ``candidates - 1`` random nouns."""
        model.eval()
        rng = random.Random(seed)  # the same distractors for every model
        hits = 0
        for v in verbs:
            partner = self.partner[v]
            others = rng.sample(
                [n for n in range(LEXICON_SIZES["NOUN"]) if n != partner], candidates - 1
            )
            head = [self.cls, *self._ids(self.prefix(v))]
            scores = [self.score(model, head, self.noun(n)) for n in (partner, *others)]
            hits += scores.index(max(scores)) == 0
        return hits / len(verbs)


def shared_pairs(target: str, source: str, world_seed: int) -> list[int]:
    """Verbs whose partner pair ``source`` writes exactly as ``target`` does."""
    t, s = Grammar(target, world_seed), Grammar(source, world_seed)
    partner = collocations(t.lang.family, world_seed).object_of_verb
    same = lambda upos, i: t.render(t.lex.words[upos][i]) == s.render(s.lex.words[upos][i])  # noqa: E731
    return [v for v in range(LEXICON_SIZES["VERB"]) if same("VERB", v) and same("NOUN", partner[v])]


def trained_models(params, tok: Tokenizer, target: str, source: str, seed: int) -> dict:
    """The five models of the module docstring, trained as the stages train them."""
    train = {c: load_split(paths.tokens(c), "train") for c in (target, source)}

    def mono(lang: str):
        return fit(
            fresh_model(params.model, tok, lang, seed),
            train[lang],
            params.train,
            tok,
            seed,
            f"mono:{lang}",
        )

    def pair(model, src: str):
        return fit(
            copy.deepcopy(model), train[target], params.train, tok, seed, f"pair:{src}-{target}"
        )

    mono_t, mono_s = mono(target), mono(source)
    return {
        "untrained": fresh_model(params.model, tok, target, seed),
        f"mono {target}": mono_t,
        f"mono {source}": mono_s,
        f"pair {source}->{target}": pair(mono_s, source),
        f"pair {target}->{target}": pair(mono_t, target),
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--target", default="qax", help="a language with collocations (default qax)")
    ap.add_argument("--source", default="qay", help="the relative pretrained on (default qay)")
    ap.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    ap.add_argument("--candidates", type=int, default=10, help="nouns per verb, partner included")
    ap.add_argument("--epochs", type=float, help="override train.epochs")
    args = ap.parse_args()
    params = changed_params(load_params(), epochs=args.epochs)
    tok = load_tokenizer(paths.TOKENIZER)
    world_seed = params.synthetic.world_seed
    prober = Prober(args.target, tok, world_seed)
    groups = {name: list(band) for name, band in BANDS.items()}
    shared = shared_pairs(args.target, args.source, world_seed)
    groups[f"written alike in {args.source} ({len(shared)})"] = shared
    start = time.perf_counter()
    models = trained_models(params, tok, args.target, args.source, args.seed)
    took = time.perf_counter() - start
    print(f"{len(models) - 1} trainings in {took:.0f} s, {params.train.epochs} epochs")
    table = pd.DataFrame(
        {
            name: {
                g: prober.accuracy(m, vs, args.candidates, args.seed) for g, vs in groups.items()
            }
            for name, m in models.items()
        }
    ).T
    chance = 1 / args.candidates
    print(
        f"share of verbs whose partner scores highest of {args.candidates} (chance {chance:.2f}):"
    )
    print(table.round(3).to_string())


if __name__ == "__main__":
    main()
