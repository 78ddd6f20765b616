"""Render a synthetic language as a real MediaWiki XML export (schema 0.10).

The markup exercises what wikiextractor has to clean in real dumps: bold and
italics, links with and without labels, templates, references, headings,
lists, a table, categories, redirects, and pages outside the main namespace.
"""

from __future__ import annotations

import bz2
import random
from collections.abc import Iterator
from pathlib import Path
from xml.sax.saxutils import escape

from bloodbank.core.io import atomic_path
from bloodbank.data.synthetic.grammar import Grammar, Token, surface
from bloodbank.data.synthetic.world import rng_for

NAMESPACES = {
    -2: "Media",
    -1: "Special",
    0: "",
    1: "Talk",
    4: "Wikipedia",
    6: "File",
    10: "Template",
    14: "Category",
}


def _siteinfo(code: str) -> str:
    ns = "\n".join(
        f'      <namespace key="{k}" case="first-letter"' + (f">{v}</namespace>" if v else " />")
        for k, v in NAMESPACES.items()
    )
    return (
        "  <siteinfo>\n"
        "    <sitename>Wikipedia</sitename>\n"
        f"    <dbname>{code}wiki</dbname>\n"
        f"    <base>https://{code}.wikipedia.org/wiki/Main_Page</base>\n"
        "    <generator>MediaWiki 1.38.0-wmf.7</generator>\n"
        "    <case>first-letter</case>\n"
        f"    <namespaces>\n{ns}\n    </namespaces>\n"
        "  </siteinfo>\n"
    )


def _page(
    title: str, ns: int, page_id: int, text: str, timestamp: str, redirect: str | None = None
) -> str:
    redirect_tag = (
        f'    <redirect title="{escape(redirect, {chr(34): "&quot;"})}" />\n' if redirect else ""
    )
    return (
        "  <page>\n"
        f"    <title>{escape(title)}</title>\n"
        f"    <ns>{ns}</ns>\n"
        f"    <id>{page_id}</id>\n"
        f"{redirect_tag}"
        "    <revision>\n"
        f"      <id>{page_id * 10 + 1}</id>\n"
        f"      <timestamp>{timestamp}</timestamp>\n"
        "      <contributor><username>Synth</username><id>1</id></contributor>\n"
        "      <model>wikitext</model>\n"
        "      <format>text/x-wiki</format>\n"
        f'      <text bytes="{len(text.encode())}" xml:space="preserve">{escape(text)}</text>\n'
        "    </revision>\n"
        "  </page>\n"
    )


class ArticleWriter:
    """Builds wikitext articles from grammar sentences."""

    def __init__(self, grammar: Grammar) -> None:
        self.g = grammar

    def _marked_sentence(
        self, rng: random.Random, subject: list[Token] | None = None, bold_subject: bool = False
    ) -> str:
        tokens = self.g.sentence(rng, subject)
        parts: list[Token] = []
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            if tok.ner.startswith("B-"):  # link a whole named entity
                j = i + 1
                while j < len(tokens) and tokens[j].ner.startswith("I-"):
                    j += 1
                name = " ".join(t.form for t in tokens[i:j])
                is_subject = subject is not None and tokens[i:j] == subject
                mark = f"'''{name}'''" if bold_subject and is_subject else f"[[{name}]]"
                parts.append(Token(mark, "PROPN"))
                i = j
                continue
            form = tok.form
            if tok.upos == "NOUN" and rng.random() < 0.12:
                form = f"[[{tok.lemma}|{tok.form}]]" if tok.lemma != tok.form else f"[[{form}]]"
            elif tok.upos == "ADJ" and rng.random() < 0.1:
                form = f"''{form}''"
            parts.append(Token(form, tok.upos))
            i += 1
        text = surface(parts)
        if rng.random() < 0.15:
            text += (
                f"<ref>{{{{cite web|title={self.g.render(self.g.lex.words['NOUN'][0])}"
                f"|url=https://example.org/{rng.randrange(10**6)}}}}}</ref>"
            )
        return text

    def article(self, rng: random.Random, title_tokens: list[Token], sections: int) -> str:
        title = " ".join(t.form for t in title_tokens)
        lines = [f"{{{{Infobox|name={title}|code={rng.randrange(1000)}}}}}"]
        lead = [self._marked_sentence(rng, title_tokens, bold_subject=True)]
        lead += [self._marked_sentence(rng) for _ in range(rng.randint(2, 4))]
        lines.append(" ".join(lead))
        for s in range(sections):
            heading = self.g.render(self.g.lex.words["NOUN"][rng.randrange(40)], capital=True)
            lines.append(f"\n== {heading} ==")
            lines.append(" ".join(self._marked_sentence(rng) for _ in range(rng.randint(3, 7))))
            if s == 0 and rng.random() < 0.5:
                lines += [f"* {self._marked_sentence(rng)}" for _ in range(rng.randint(2, 3))]
            if s == 1 and rng.random() < 0.4:
                cells = [self.g.render(self.g.lex.words["NOUN"][k]) for k in range(4)]
                lines.append(
                    '{| class="wikitable"\n|-\n! '
                    + " !! ".join(cells[:2])
                    + "\n|-\n| "
                    + " || ".join(cells[2:])
                    + "\n|}"
                )
        category = self.g.render(self.g.lex.words["NOUN"][rng.randrange(20)], capital=True)
        lines.append(f"\n[[Category:{category}]]")
        return "\n".join(lines)


def iter_dump_xml(code: str, world_seed: int, articles: int, date: str) -> Iterator[str]:
    """Yield the XML export of ``code``'s synthetic Wikipedia in pieces."""
    grammar = Grammar(code, world_seed)
    writer = ArticleWriter(grammar)
    rng = rng_for("dump", code, world_seed)
    timestamp = f"{date[:4]}-{date[4:6]}-{date[6:8]}T00:00:00Z"
    yield (
        '<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xsi:schemaLocation="http://www.mediawiki.org/xml/export-0.10/ '
        'http://www.mediawiki.org/xml/export-0.10.xsd" version="0.10" xml:lang="'
        f'{code}">\n'
    )
    yield _siteinfo(code)
    yield _page("Template:Infobox", 10, 1, "<includeonly>{{{name}}}</includeonly>", timestamp)
    yield _page("Wikipedia:About", 4, 2, writer._marked_sentence(rng), timestamp)
    seen: set[str] = set()
    page_id = 10
    for _ in range(articles):
        title_tokens = grammar.name(rng)
        title = " ".join(t.form for t in title_tokens)
        if title in seen:
            continue
        seen.add(title)
        page_id += 1
        yield _page(
            title, 0, page_id, writer.article(rng, title_tokens, rng.randint(1, 3)), timestamp
        )
        if rng.random() < 0.08:  # a redirect to the article just written
            page_id += 1
            nouns = grammar.lex.words["NOUN"]  # fewer than 900 where the language has gaps
            alias = grammar.render(nouns[rng.randrange(len(nouns))], capital=True)
            if alias not in seen:
                seen.add(alias)
                yield _page(alias, 0, page_id, f"#REDIRECT [[{title}]]", timestamp, title)
        if rng.random() < 0.03:
            page_id += 1
            yield _page(f"Category:{title}", 14, page_id, writer._marked_sentence(rng), timestamp)
    yield "</mediawiki>\n"


def write_dump(path: Path, code: str, world_seed: int, articles: int, date: str) -> Path:
    """Write the bz2-compressed dump atomically; bz2 carries no timestamp, so bytes repeat."""
    with atomic_path(path) as tmp, bz2.open(tmp, "wt", encoding="utf-8") as fh:
        for piece in iter_dump_xml(code, world_seed, articles, date):
            fh.write(piece)
    return path
