"""Our own labelled training articles, composed from sentence banks written for this project.

There are no labelled articles on a fresh install, so the learned part starts from these:
short articles built from sentences we wrote ourselves (one bank per dyad and topic, plus
banks of the hard negatives the labelling conventions describe: Kuril earthquakes, Japan–China
rows without Russia, European gas, Iran sanctions, sports, Russia–North Korea ties with no
Japanese or Chinese party). Labels follow from how an article was composed. A fixed random
seed makes the set, and so the seed model, reproducible.
"""

from __future__ import annotations

import random
from typing import Any

__all__ = ["synthetic_articles"]

RU = ["Russia", "Moscow", "the Kremlin", "Russian President Vladimir Putin", "Sergei Lavrov",
      "the Russian government"]
JP = ["Japan", "Tokyo", "Prime Minister Fumio Kishida", "the Japanese government",
      "Japan's foreign ministry", "Foreign Minister Yoko Kamikawa"]
CN = ["China", "Beijing", "President Xi Jinping", "the Chinese government", "Wang Yi",
      "China's foreign ministry"]

# (dyad, topic) -> sentences; {ru}/{jp}/{cn} are filled with actor names.
BANK: dict[tuple[str, str], list[str]] = {
    ("russia_japan", "kurils"): [
        "{jp} protested after {ru} deployed new missile systems on Iturup and Kunashir.",
        "{ru} and {jp} agreed to resume talks on a peace treaty and the disputed islands.",
        "Former Japanese islanders held a grave visit to Shikotan under the visa-free programme.",
        "{jp} insists the four islands it calls the Northern Territories must be returned.",
        "The 1956 declaration promised the handover of Shikotan and the Habomai islets after a peace treaty.",
        "Japanese and Russian officials discussed joint economic activities on the Southern Kurils, including sea urchin farming.",
        "{ru} held military drills on the Kuril Islands, and {jp} lodged a formal protest.",
    ],
    ("russia_japan", "sanctions"): [
        "{jp} imposed new sanctions on Russia over the war in Ukraine, freezing the assets of banks.",
        "{jp} banned exports of luxury cars and dual-use goods to Russia.",
        "{ru} retaliated with counter-sanctions and an entry ban on Japanese officials.",
        "Tokyo joined G7 partners in a price cap on Russian oil and new export controls.",
    ],
    ("russia_japan", "energy"): [
        "Japanese trading houses Mitsui and Mitsubishi kept their stakes in the Sakhalin-2 LNG project.",
        "{jp} continued to import liquefied natural gas from Sakhalin despite pressure to cut Russian energy.",
        "Russia approved Mitsui's stake in the new operator of Sakhalin-2.",
        "Japanese utilities signed contracts for LNG cargoes from Arctic LNG 2.",
    ],
    ("russia_japan", "military"): [
        "Japan's Air Self-Defense Force scrambled fighter jets as Russian Tu-95 bombers flew along the coast.",
        "Russian warships sailed through the Soya Strait, the Japanese Defense Ministry said.",
        "{jp} raised concern about Russia's military buildup in the Far East in its defence white paper.",
        "Russian and Japanese defence ministers met in a 2+2 format to discuss missile defence.",
    ],
    ("russia_japan", "maritime"): [
        "A Russian patrol plane violated Japanese territorial airspace off Hokkaido, and Tokyo protested to Moscow.",
        "Japan said a Russian helicopter entered its airspace near the Senkaku Islands.",
        "Russian aircraft entered Japan's air defense identification zone twice this week.",
    ],
    ("russia_japan", "korea"): [
        "{jp} and {ru} agreed to cooperate on North Korea's nuclear and missile programmes.",
        "{jp} expressed grave concern about arms deals between Moscow and Pyongyang.",
        "Tokyo urged Moscow to respect UN resolutions on North Korea after the Putin-Kim summit.",
    ],
    ("russia_japan", "investment"): [
        "Japanese companies discussed investment in the Russian Far East at the Eastern Economic Forum in Vladivostok.",
        "Trade between Japan and Russia rose under the eight-point economic cooperation plan.",
        "Japan and Russia agreed on salmon and trout fishing quotas for the season.",
        "A Japanese carmaker sold its factory in Russia to a local partner.",
    ],
    ("russia_china", "eaeu_bri"): [
        "{ru} and {cn} agreed to link the Eurasian Economic Union with the Belt and Road Initiative.",
        "China's growing influence in Central Asia challenges Russia's role in the former Soviet states.",
        "Kazakhstan and Kyrgyzstan balance between Moscow and Beijing, courting Belt and Road loans.",
        "The Shanghai Cooperation Organisation has become an arena of Russian-Chinese rivalry in Central Asia.",
    ],
    ("russia_china", "sanctions"): [
        "The United States warned Chinese banks of secondary sanctions for helping Russia.",
        "The EU sanctioned Chinese firms that supplied dual-use goods to Russia's military industry.",
        "Chinese companies helped Moscow evade Western export controls on microchips.",
        "{cn} condemned Western sanctions on Chinese entities trading with Russia.",
    ],
    ("russia_china", "energy"): [
        "Gazprom increased gas deliveries to China through the Power of Siberia pipeline.",
        "{ru} and {cn} negotiated the Power of Siberia 2 gas pipeline through Mongolia.",
        "Rosneft agreed to supply more crude oil to CNPC via the ESPO pipeline.",
        "China became the largest buyer of Russian oil and LNG.",
    ],
    ("russia_china", "military"): [
        "Russian and Chinese warships held joint naval drills in the Sea of Japan.",
        "Chinese and Russian bombers flew a joint patrol over the Pacific.",
        "Russia delivered Su-35 fighters and S-400 systems to China.",
        "Chinese troops took part in Russia's Vostok exercise.",
    ],
    ("russia_china", "maritime"): [
        "{ru} backed China's position on the South China Sea and rejected the arbitral ruling.",
        "Lavrov opposed the internationalisation of the South China Sea dispute.",
        "Russian and Chinese aircraft entered the air defence identification zone of South Korea.",
    ],
    ("russia_china", "korea"): [
        "{cn} and {ru} proposed a freeze-for-freeze deal on the Korean Peninsula.",
        "Beijing and Moscow jointly opposed the THAAD deployment in South Korea.",
        "{cn} watched warily as Russia and North Korea signed a defence treaty.",
    ],
    ("russia_china", "investment"): [
        "Trade between Russia and China reached a record of 240 billion dollars.",
        "Chinese carmakers sold a record number of cars in Russia.",
        "A new road bridge between Blagoveshchensk and Heihe opened for trade.",
        "Chinese investors pledged billions for projects in the Russian Far East.",
    ],
}

DYAD_ONLY: dict[str, list[str]] = {
    "russia_japan": [
        "{ru} and {jp} held talks in Moscow on bilateral relations.",
        "{jp} summoned the Russian ambassador to protest.",
        "{ru} said relations with Japan had reached a low point.",
    ],
    "russia_china": [
        "{ru} and {cn} pledged a no-limits partnership at their summit.",
        "{cn} said its relations with Russia were at their best in history.",
        "Putin and Xi met in Beijing and signed a joint statement.",
    ],
}

BACKGROUND = [
    "The talks took place amid rising tension in the region.",
    "Analysts said the move reflected broader shifts in Asia.",
    "Officials gave no further details.",
    "The ministry said more meetings would follow next month.",
]

# Hard negatives: each a kind, a list of sentences; none makes a dyad.
NEGATIVES: dict[str, list[str]] = {
    "kuril_quake": [
        "A magnitude 6.8 earthquake struck off the Kuril Islands on Tuesday.",
        "The Japan Meteorological Agency said there was no tsunami threat to Hokkaido.",
        "Residents of Severo-Kurilsk were told to move to higher ground.",
        "Tourism on the Kurils has grown as Russia builds new hotels on Iturup.",
    ],
    "japan_china": [
        "Chinese coast guard ships entered waters near the Senkaku Islands again.",
        "Japan protested to China over the seafood import ban after the Fukushima water release.",
        "The leaders of Japan and China met on the sidelines of the APEC summit.",
        "Beijing and Tokyo traded accusations over Taiwan.",
    ],
    "europe_gas": [
        "European gas prices fell as storage sites filled up.",
        "Investigators in Germany examined the Nord Stream pipeline blasts.",
        "The EU agreed to phase out Russian gas imports by 2027.",
    ],
    "iran_sanctions": [
        "The US Treasury imposed sanctions on Iran's shadow fleet of tankers.",
        "Washington sanctioned firms shipping Iranian oil to refineries in Asia.",
        "Venezuela's oil exports fell after new US sanctions.",
    ],
    "sports": [
        "Russia beat Japan in straight sets in the volleyball match.",
        "Japan edged China in the wrestling final of the World Cup.",
        "The handball championship ended with a win for the hosts.",
    ],
    "ukraine": [
        "Russian drones struck Kyiv overnight, Ukrainian officials said.",
        "Peace talks between Russia and Ukraine made little progress.",
    ],
    "north_korea_only": [
        "North Korea launched a ballistic missile into the sea.",
        "Russia and North Korea signed a mutual defence treaty in Pyongyang.",
        "The UN panel said Pyongyang evaded sanctions through cyber theft.",
    ],
    "central_asia": [
        "Kazakhstan expanded oil exports through the Caspian pipeline.",
        "Uzbekistan announced economic reforms to attract investors.",
        "China's Belt and Road lent Kenya billions for a railway.",
    ],
}

# A passing mention that must not make a dyad on its own.
PASSING = [
    "Russia was also mentioned as a concern.",
    "Russia later followed suit.",
    "The statement also criticised Russia's war in Ukraine.",
]


def _fill(sentence: str, rng: random.Random) -> str:
    return sentence.format(ru=rng.choice(RU), jp=rng.choice(JP), cn=rng.choice(CN))


def synthetic_articles(n_positive: int = 400, n_negative: int = 250,
                       seed: int = 20161221) -> list[dict[str, Any]]:
    """Labelled articles in the gold format (id, title, text, relevant, dyads, topics)."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    keys = list(BANK)
    for i in range(n_positive):
        dyad, topic = rng.choice(keys)
        topics = {topic}
        sents = rng.sample(BANK[(dyad, topic)], k=min(len(BANK[(dyad, topic)]), rng.randint(2, 3)))
        if rng.random() < 0.25:
            other = rng.choice([k for k in keys if k[0] == dyad and k[1] != topic])
            sents += rng.sample(BANK[other], k=2)
            topics.add(other[1])
        elif rng.random() < 0.3:
            other = rng.choice([k for k in keys if k[0] == dyad and k[1] != topic])
            sents.append(rng.choice(BANK[other]))  # one passing sentence: no topic
        sents.append(_fill(rng.choice(DYAD_ONLY[dyad]), rng))
        sents += rng.sample(BACKGROUND, k=rng.randint(0, 2))
        if rng.random() < 0.3:
            sents.append(rng.choice(rng.choice(list(NEGATIVES.values()))))
        title = sents[0].rstrip(".")
        body = [_fill(s, rng) for s in sents[1:]]
        rng.shuffle(body)
        order = {"kurils": 0, "eaeu_bri": 1, "sanctions": 2, "energy": 3, "military": 4,
                 "maritime": 5, "korea": 6, "investment": 7}
        out.append({"id": f"syn-p{i:04d}", "title": _fill(title, rng), "text": " ".join(body),
                    "relevant": True, "dyads": [dyad],
                    "topics": sorted(topics, key=order.__getitem__)})
    kinds = list(NEGATIVES)
    for i in range(n_negative):
        kind = rng.choice(kinds)
        sents = rng.sample(NEGATIVES[kind], k=min(3, len(NEGATIVES[kind])))
        if rng.random() < 0.5:
            sents.append(rng.choice(PASSING))
        sents += rng.sample(BACKGROUND, k=rng.randint(0, 2))
        title = sents[0].rstrip(".") if rng.random() < 0.6 else ""
        body = sents[1:] if title else sents
        out.append({"id": f"syn-n{i:04d}", "title": title, "text": " ".join(body),
                    "relevant": False, "dyads": [], "topics": []})
    return out
