"""The name tables story features look names up in, from the project lexicon.

The lexicon (``seeds/names.toml``, loaded and validated by :mod:`monitor.stories.names`)
gives every entity its forms in en/ru/ja/zh. Story features want two tables of canonical
anchor -> surface forms (prefixes for Latin/Cyrillic, substrings for CJK; a trailing ``$``
marks a whole word): ``COUNTRIES`` (by ISO code: every article of the monitor names them,
so they only veto, never join) and ``ENTITIES`` (everything else: people, places, projects,
exercises, ships, documents, and the few topic words). ``EXCLUDES`` keeps each entity's
veto strings (国後 inside 帰国後).
"""

from __future__ import annotations

import re

from monitor.stories.names import load_names

_LETTER = re.compile(r"[^\W\d_]")


def _tables() -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]],
                       dict[str, tuple[str, ...]]]:
    countries: dict[str, tuple[str, ...]] = {}
    entities: dict[str, tuple[str, ...]] = {}
    excludes: dict[str, tuple[str, ...]] = {}
    for entity in load_names():
        # The feature scan looks for forms where a letter starts: the few forms opening with
        # a digit ("1956 declaration") are left to their other forms and the number anchors.
        forms = tuple(dict.fromkeys(form for _lang, form in entity.all_forms()
                                    if _LETTER.match(form)))
        if not forms:
            continue
        if entity.kind == "country":
            key = entity.code or entity.id
            countries[key] = countries.get(key, ()) + forms
        else:
            entities[entity.id] = forms
            if entity.exclude:
                excludes[entity.id] = entity.exclude
    return countries, entities, excludes


COUNTRIES, ENTITIES, EXCLUDES = _tables()
