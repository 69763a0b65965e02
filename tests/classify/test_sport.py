"""Matches between national teams are not relations news unless about the relations.

Articles written for this test: two sports stories that name both countries and look like
dealings ("Japan beat Russia", "Russian team in Beijing"), and three that stay relevant: a
boycott, a visa refusal, and drills next to a sports paragraph (two stories run together).
"""

from __future__ import annotations

import pytest

from monitor.classify.load import load_classifier
from monitor.classify.rules import analyse, sport_veto
from monitor.settings import load_settings

CASES = [
    ("volleyball", "Japan stun Russia in volleyball semifinal",
     "Japan beat Russia 3-1 in the volleyball semifinal in Tokyo on Sunday. Russia's coach "
     "said his spikers were tired after the quarterfinal. The Japanese team meets China in "
     "the final.", False),
    ("olympics", "Russian team arrives in Beijing for the Winter Olympics",
     "The Russian Olympic team arrived in Beijing on Tuesday, where Chinese officials welcomed "
     "the athletes at the airport. Russian skaters and skiers will compete from Friday. "
     "Beijing and Moscow athletes trained together last month.", False),
    ("boycott", "Japan weighs boycott of Russia-hosted championship after Kuril drills",
     "Tokyo said on Monday it may boycott the wrestling championship in Moscow in protest at "
     "Russian military drills on the disputed Kuril Islands. Japan's foreign ministry lodged "
     "a protest with the Russian embassy.", True),
    ("visas", "Russia refuses visas to Japanese judo team",
     "Moscow refused entry visas to Japan's judo team days before the tournament, and Tokyo "
     "protested to the Russian ambassador, calling the refusal a political move against Japan.",
     True),
    ("drills", "China and Russia hold naval drills in the Sea of Japan",
     "Chinese and Russian warships held joint naval drills in the Sea of Japan on Monday, and "
     "Japan's defence ministry said it was monitoring the exercise closely. Beijing and Moscow "
     "said the drills deepen their military cooperation. In sport, a football match was "
     "postponed by rain.", True),
]


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    return load_classifier(load_settings(home=tmp_path_factory.mktemp("sport-home"), env={}))


@pytest.mark.parametrize(("title", "text", "relevant"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_sport_needs_the_relations_to_count(classifier, title, text, relevant) -> None:
    pred = classifier.predict_one({"id": "x", "title": title, "text": text})
    assert pred.relevant is relevant, pred
    assert bool(pred.dyads) is relevant
    # The rule itself, whatever the learned model would have said.
    veto = sport_veto(analyse(classifier.lexicon, title, text))
    assert (veto is None) is relevant
    if pred.evidence.get("sport"):  # when the veto decided, the evidence says why
        assert pred.evidence["sport"] == [veto]


def test_the_veto_overrules_dyad_evidence_and_says_why(tmp_path) -> None:
    """Rules alone find Russia–China dealings in the Olympic story (officials welcome the
    athletes); the sport veto takes them away and its evidence names the sports cue."""
    from monitor.classify.model import Classifier
    from monitor.classify.topics import load_taxonomy

    settings = load_settings(home=tmp_path, env={})
    rules_only = Classifier(load_taxonomy(settings.topics_file), None)
    _, title, text, _ = CASES[1]
    pred = rules_only.predict_one({"id": "o", "title": title, "text": text})
    assert pred.scores["relevant"] >= 0.5  # the dyad evidence alone would count it
    assert not pred.relevant and pred.evidence["sport"][0].startswith("[Olympic]")
