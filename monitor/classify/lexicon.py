"""Term lists from ``topics.toml`` compiled once into one fast matcher.

Why not one regular expression per category: Python's ``re`` tries every alternative at every
position, and ~40 categories of a few hundred terms cost ~30 ms per 2,000-character article,
thirty times our speed budget. Instead the text is tokenised once (``\\w+``, lower-cased) and
every token is looked up in dictionaries keyed by the first token of each term (exact, or a
stem for terms ending in ``*``); the answer per distinct token is cached, so a typical token
costs one dictionary lookup. Japanese and Chinese terms (no spaces between words) go through
one regular expression that runs only on text containing those scripts; terms starting with
``re:`` through another.

A category is a string such as ``actor:russia``, ``topic:energy``, ``mask:china``.
"""

from __future__ import annotations

import re
from collections import defaultdict

from monitor.classify.topics import TOPIC_IDS, Taxonomy
from monitor.errors import ConfigError

__all__ = ["Lexicon", "Match", "build_lexicon", "TOKEN"]

TOKEN = re.compile(r"\w+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
#: Bound on the per-token cache; cleared when full (news vocabulary is a few 10,000 words).
_CACHE_MAX = 200_000
_NOTHING: tuple[tuple[tuple[str, str], ...], tuple[int, ...]] = ((), ())


#: One match: (sentence index, token index within the sentence or -1 for Japanese/Chinese
#: and regex matches, number of tokens spanned, the term). Plain tuples, grouped by category:
#: an article yields hundreds, and tuple creation is the cheapest Python allocation.
Match = tuple[int, int, int, str]


_Pattern = tuple[tuple[str, bool], ...]  # (token, is_prefix) per term token


class Lexicon:
    """Every category's terms, matched in one pass over an article's sentences."""

    def __init__(self, entries: list[tuple[str, str]]) -> None:
        self.categories = sorted({c for c, _ in entries})
        self._terms: list[tuple[str, _Pattern, str]] = []
        self._first_exact: dict[str, list[int]] = defaultdict(list)
        self._first_prefix: dict[str, list[int]] = defaultdict(list)
        cjk: dict[str, set[str]] = defaultdict(set)
        regex_parts: list[str] = []
        self._regex_category: dict[str, str] = {}
        for category, term in entries:
            if term.startswith("re:"):
                name = f"g{len(regex_parts)}"
                regex_parts.append(f"(?P<{name}>{term[3:]})")
                self._regex_category[name] = category
                continue
            if _CJK.search(term):
                cjk[term.lower()].add(category)
                continue
            pattern_list: list[tuple[str, bool]] = []
            for part in term.split():
                toks = TOKEN.findall(part.rstrip("*").lower())
                for j, tok in enumerate(toks):
                    pattern_list.append((tok, part.endswith("*") and j == len(toks) - 1))
            if not pattern_list:
                continue
            pattern = tuple(pattern_list)
            idx = len(self._terms)
            self._terms.append((category, pattern, term))
            first, prefix = pattern[0]
            (self._first_prefix if prefix else self._first_exact)[first].append(idx)
        self._stem_lengths = sorted({len(s) for s in self._first_prefix})
        self._cjk_categories = {k: tuple(sorted(v)) for k, v in cjk.items()}
        self._cjk = (re.compile("|".join(re.escape(t) for t in
                                         sorted(cjk, key=lambda t: (-len(t), t))))
                     if cjk else None)
        self._regex = re.compile("|".join(regex_parts), re.IGNORECASE) if regex_parts else None
        self._cache: dict[str, tuple[tuple[tuple[str, str], ...], tuple[int, ...]]] = {}
        #: The cached tokens that start some term (the rest map to _NOTHING).
        self._useful: set[str] = set()

    def _candidates(self, token: str) -> tuple[tuple[tuple[str, str], ...], tuple[int, ...]]:
        """(single-token matches as (category, term), ids of multi-token terms to verify)."""
        found = self._cache.get(token)
        if found is None:
            ids = list(self._first_exact.get(token, ()))
            for n in self._stem_lengths:
                if n > len(token):
                    break
                ids.extend(self._first_prefix.get(token[:n], ()))
            single = tuple((self._terms[i][0], self._terms[i][2].rstrip("*"))
                           for i in ids if len(self._terms[i][1]) == 1)
            multi = tuple(i for i in ids if len(self._terms[i][1]) > 1)
            found = (single, multi) if ids else _NOTHING
            self._cache[token] = found
            if ids:
                self._useful.add(token)
        return found

    def match(self, sentences: list[str]) -> dict[str, list[Match]]:
        """All term matches in ``sentences`` by category (a term may be in several)."""
        out: dict[str, list[Match]] = {}
        cache = self._cache
        findall = TOKEN.findall
        if len(cache) > _CACHE_MAX:
            cache.clear()
            self._useful.clear()
        token_lists = [findall(sentence.lower()) for sentence in sentences]
        # Per article, not per sentence: the tokens never seen before, the tokens that start
        # a term, and whether any sentence holds Japanese/Chinese/Korean text at all. Most
        # sentences hold no token that starts a term and are skipped whole.
        vocabulary = set().union(*token_lists)
        for tok in vocabulary.difference(cache):
            self._candidates(tok)
        useful = vocabulary & self._useful
        cjk = self._cjk is not None and any(map(_CJK.search, sentences))
        for si, tokens in enumerate(token_lists):
            if useful and not useful.isdisjoint(tokens):
                self._match_tokens(out, si, tokens)
            sentence = sentences[si]
            if cjk and _CJK.search(sentence):
                for m in self._cjk.finditer(sentence.lower()):  # type: ignore[union-attr]
                    for category in self._cjk_categories[m.group(0)]:
                        out.setdefault(category, []).append((si, -1, 0, m.group(0)))
            if self._regex is not None:
                for m in self._regex.finditer(sentence):
                    category = self._regex_category[m.lastgroup or ""]
                    out.setdefault(category, []).append((si, -1, 0, m.group(0)))
        return out

    def _match_tokens(self, out: dict[str, list[Match]], si: int, tokens: list[str]) -> None:
        """Add the matches among one sentence's tokens (all in the cache) to ``out``."""
        terms = self._terms
        cache = self._cache
        ntok = len(tokens)
        # The comprehension runs in C; most tokens match nothing.
        for ti, (single, multi) in [(ti, f) for ti, tok in enumerate(tokens)
                                    if (f := cache[tok]) is not _NOTHING]:
            for category, term in single:
                bucket = out.get(category)
                if bucket is None:
                    out[category] = [(si, ti, 1, term)]
                else:
                    bucket.append((si, ti, 1, term))
            for tid in multi:
                category, pattern, term = terms[tid]
                n = len(pattern)
                if ti + n > ntok:
                    continue
                for k in range(1, n):
                    want, prefix = pattern[k]
                    got = tokens[ti + k]
                    if not (got.startswith(want) if prefix else got == want):
                        break
                else:
                    out.setdefault(category, []).append((si, ti, n, term.rstrip("*")))


def build_lexicon(taxonomy: Taxonomy) -> Lexicon:
    """Every term list of the taxonomy as (category, term) entries in one :class:`Lexicon`."""
    entries: list[tuple[str, str]] = []

    def add(category: str, terms: tuple[str, ...], required: bool = False) -> None:
        if required and not terms:
            raise ConfigError(f"{taxonomy.path}: {category} has no terms")
        entries.extend((category, t) for t in terms)

    for actor, terms in taxonomy.actors.items():
        add(f"actor:{actor}", terms, required=True)
        add(f"mask:{actor}", taxonomy.actor_excludes.get(actor, ()))
    add("interaction", taxonomy.interaction, required=True)
    for kind, terms in taxonomy.negative.items():
        add(f"neg:{kind}", terms)
    for tid in TOPIC_IDS:
        spec = taxonomy.topics[tid]
        add(f"topic:{tid}", spec.terms, required=True)
        add(f"weak:{tid}", spec.weak)
        add(f"exclude:{tid}", spec.exclude)
    return Lexicon(entries)
