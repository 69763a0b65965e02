"""topics.toml: fixed ids, traced to the seed, multilingual aliases that actually match."""

from __future__ import annotations

import pytest

from monitor.classify.lexicon import build_lexicon
from monitor.classify.rules import analyse
from monitor.classify.topics import DYAD_IDS, TOPIC_IDS, load_taxonomy, seed_paragraphs
from monitor.settings import REPO_ROOT

TAXONOMY = load_taxonomy(REPO_ROOT / "seeds" / "topics.toml")
LEXICON = build_lexicon(TAXONOMY)


def test_ids_are_the_fixed_ones():
    assert tuple(TAXONOMY.topics) == TOPIC_IDS
    assert tuple(TAXONOMY.dyads) == DYAD_IDS


@pytest.mark.parametrize("tid", TOPIC_IDS)
def test_topic_traced_to_seed_paragraph(tid):
    spec = TAXONOMY.topics[tid]
    paragraphs = seed_paragraphs(TAXONOMY)
    assert spec.seed_paragraphs and spec.description and spec.prototype
    assert all(1 <= p <= len(paragraphs) for p in spec.seed_paragraphs)
    assert any(spec.seed_quote in paragraphs[p - 1] for p in spec.seed_paragraphs), (
        f"{tid}: seed_quote not found in paragraphs {spec.seed_paragraphs}")


@pytest.mark.parametrize(("text", "category"), [
    ("Kunashir", "topic:kurils"), ("Кунашир", "topic:kurils"), ("国後島", "topic:kurils"),
    ("Power of Siberia", "topic:energy"), ("Сила Сибири", "topic:energy"),
    ("西伯利亚力量", "topic:energy"), ("Northern Territories", "topic:kurils"),
    ("北方領土", "topic:kurils"), ("Eurasian Economic Union", "topic:eaeu_bri"),
    ("一带一路", "topic:eaeu_bri"), ("Senkaku Islands", "topic:maritime"),
    ("尖閣", "topic:maritime"), ("North Korea", "topic:korea"), ("КНДР", "topic:korea"),
    ("Sakhalin-2", "topic:energy"), ("Sakhalin 2", "topic:energy"),
    ("Путин", "actor:russia"), ("ロシア", "actor:russia"), ("俄罗斯", "actor:russia"),
    ("Токио", "actor:japan"), ("日本", "actor:japan"), ("Пекин", "actor:china"),
    ("习近平", "actor:china"),
], ids=lambda v: str(v))
def test_aliases_match(text, category):
    assert category in LEXICON.match([text])


@pytest.mark.parametrize(("text", "actor"), [
    ("Warships sailed in the South China Sea.", "china"),
    ("Drills were held in the Sea of Japan.", "japan"),
    ("The Japan Times reported it.", "japan"),
])
def test_geography_is_not_an_actor(text, actor):
    a = analyse(LEXICON, "", text)
    assert a.features[f"{actor}_sentences"] == 0


def test_sentence_level_exclusion():
    # An earthquake sentence on the Kurils is not Kuril-dispute evidence.
    a = analyse(LEXICON, "", "A strong earthquake hit the Kuril Islands. No damage was seen.")
    assert a.features["kurils_strong"] == 0
