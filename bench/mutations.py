"""Damaged feeds: how many lose every entry, against feedparser on the same bytes.

Takes real feeds (``../shared/feeds`` when present, else the repository's own fixtures),
damages each copy in one to four places (a snippet inserted from a list of what real feeds
get wrong: character references to surrogates, stray end tags, junk in the XML declaration,
unsplittable links, impossible dates, control characters; or bytes deleted, or random bytes
inserted), and runs ``parse_feed`` and the record building of the ingest on each. Prints
how many mutants:

- lost their feed: ``parse_feed`` answered "parser crashed" (every entry of the feed lost,
  at every poll, until the feed changes), by cause;
- failed the batch: building the records raised (keys, canonical URLs, the staging file's
  encoding);
- made feedparser itself raise (it keeps nothing then), and how many of those we still read.

Run: .venv/bin/python bench/mutations.py [--mutants 3000] [--seed 1] [--corpus DIR]
"""

from __future__ import annotations

import argparse
import collections
import logging
import random
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHARED_FEEDS = ROOT.parent / "shared" / "feeds"
FIXTURES = ROOT / "tests" / "fixtures" / "feeds"

#: What real feeds get wrong, as bytes to insert anywhere.
SNIPPETS = [
    b"https://[x/y", b"//[z", b"http://a.example:99999999/", b"https://a.example:80x/",
    b"\x00", b"\x0b", b"&#0;", b"&#xD83D;&#xDE00;", b"&#55357;", b"&#1114112;", b"<![CDATA[",
    b"]]>", b"&bogus;", b"\xff\xfe", b"\xed\xa0\x80", b"<b>", b"</item>", b"<item>", b"<link/>",
    b"<guid isPermaLink='x'>", b"<pubDate>Mon, 32 Foo 99999 25:61:61 +9999</pubDate>",
    b"<pubDate>0000-00-00T00:00:00Z</pubDate>", b"<updated>9999-12-31T23:59:59+14:00</updated>",
    b"<dc:date>-0001-01-01</dc:date>", b"<title type='application/octet-stream'>!!</title>",
    b"xml:base='::::'", b"<link href='http://[::1'/>", b"\xe2\x80\xa8", b"\xef\xbb\xbf",
    b"<atom:link rel='alternate' href='%zz'/>", b"<source url='x'>" + b"A" * 300 + b"</source>",
]


def documents(corpus: Path | None) -> tuple[list[bytes], str]:
    for folder in ([corpus] if corpus else [SHARED_FEEDS]):
        if folder and folder.is_dir():
            found = [p.read_bytes() for p in sorted(folder.rglob("*"))
                     if p.is_file() and p.suffix != ".md"]
            if found:
                return found, str(folder)
    return [p.read_bytes() for p in sorted(FIXTURES.rglob("*.xml"))], "the repository's fixtures"


def mutate(body: bytes, rng: random.Random) -> bytes:
    out = bytearray(body)
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(len(out) + 1)
        roll = rng.random()
        if roll < 0.6:
            out[at:at] = rng.choice(SNIPPETS)
        elif roll < 0.8 and len(out) > 10:
            del out[at:at + rng.randint(1, 20)]
        else:
            out[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
    return bytes(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mutants", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--corpus", type=Path, default=None)
    args = parser.parse_args()
    logging.disable(logging.CRITICAL)  # "parser crashed" is logged with a traceback

    import feedparser

    from monitor.ingest.batch import _article_record
    from monitor.ingest.keys import keys_for_feed
    from monitor.ingest.parse import parse_feed
    from monitor.ingest.stage import _encode_records
    from monitor.sources import Source

    bodies, where = documents(args.corpus)
    rng = random.Random(args.seed)
    now = datetime(2026, 12, 4)
    lost: collections.Counter[str] = collections.Counter()
    failed: collections.Counter[str] = collections.Counter()
    theirs_raised = ours_read = 0
    started = time.monotonic()
    for n in range(1, args.mutants + 1):
        body = mutate(rng.choice(bodies), rng)
        parsed = parse_feed(body, "https://base.example.org/feed", now=now)
        try:
            feedparser.parse(body, resolve_relative_uris=False, sanitize_html=False)
        except Exception:
            theirs_raised += 1
            ours_read += bool(parsed.entries)
        if parsed.error and parsed.error.startswith("parser crashed"):
            lost[parsed.error.split(":", 2)[1].strip()] += 1
            continue
        source = Source(id="s", url="https://base.example.org/feed", outlet="O",
                        kind=("feed", "search")[n % 2])
        try:
            keys = keys_for_feed(parsed.entries, source.id)
            _encode_records([_article_record(e, k, source, None)
                             for e, k in zip(parsed.entries, keys, strict=True)])
        except Exception as exc:
            failed[type(exc).__name__] += 1
        if n % 500 == 0:
            print(f"  {n} mutants, {time.monotonic() - started:.0f} s", file=sys.stderr)
    total = args.mutants
    print(f"{total} mutants of {len(bodies)} documents from {where} (seed {args.seed})")
    print(f"feed lost (parser crashed):  {sum(lost.values()):5d}  {dict(lost.most_common())}")
    print(f"batch failed (records):      {sum(failed.values()):5d}  {dict(failed.most_common())}")
    print(f"feedparser itself raised:    {theirs_raised:5d}  (of those, we read entries from "
          f"{ours_read})")


if __name__ == "__main__":
    main()
