"""A local stand-in for the GDELT DOC 2.0 API (``mode=artlist&format=json``).

It answers from a fixed set of articles per query, honouring ``startdatetime`` /
``enddatetime`` and the 250-result cap, like the real API. Behaviours the tests rely on:

* "China" queries: 600 articles on each day (one every 2.4 minutes): a whole day or half a day
  comes back full (250) and must be split; quarter days (150) fit.
* "Japan" queries: 40 articles a day, some in Russian and Japanese, one with a raw control
  character in its title (GDELT does send those).
* "Kuril" queries: the first request answers 429 with ``Retry-After: 0``; later ones work.
* "Eurasian" queries: malformed JSON (cut off mid-string) with status 200.
* "Power of Siberia" queries: GDELT's plain-text error message with status 200.
* anything else: ``{}`` (GDELT's answer when nothing matches).
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from tests.support.httpserver import LocalHTTPServer, Request

PATH = "/api/v2/doc/doc"
DAYS = [datetime(2025, 3, 1), datetime(2025, 3, 2)]


def _china(day: datetime) -> list[dict]:
    return [{"url": f"https://www.cn-news.example/{day:%m%d}/{i}",
             "title": f"Moscow and Beijing sign deal number {i}",
             "seendate": f"{day + timedelta(minutes=2.4 * i):%Y%m%dT%H%M%SZ}",
             "domain": "cn-news.example", "language": "English", "sourcecountry": "China"}
            for i in range(600)]


def _japan(day: datetime) -> list[dict]:
    out = []
    for i in range(40):
        lang, title = ("English", f"Tokyo protests Russian drills near Hokkaido, report {i}")
        if i % 4 == 1:
            lang, title = "Russian", f"Москва и Токио обсудили мирный договор, сообщение {i}"
        elif i % 4 == 2:
            lang, title = "Japanese", f"日露外相会談で北方領土問題を協議 第{i}報"
        if i == 3:
            title = "Kremlin\x01 answers Tokyo"
        out.append({"url": f"https://jp-{i % 3}.example.org/story/{day:%m%d}-{i}",
                    "title": title, "seendate": f"{day + timedelta(minutes=36 * i):%Y%m%dT%H%M%SZ}",
                    "domain": f"jp-{i % 3}.example.org", "language": lang,
                    "sourcecountry": "Japan"})
    return out


class FakeGdelt:
    """Install on a LocalHTTPServer; records (time, query, start, end) of every request."""

    def __init__(self, server: LocalHTTPServer) -> None:
        self.calls: list[tuple[float, str, str, str]] = []
        self._lock = threading.Lock()
        self._kuril_429 = True
        self.articles = {"China": [a for d in DAYS for a in _china(d)],
                         "Japan": [a for d in DAYS for a in _japan(d)]}
        self.url = server.route(PATH, handler=self.answer)

    def answer(self, req: Request) -> tuple[int, dict[str, str], bytes]:
        q = {k: v[0] for k, v in parse_qs(urlsplit(req.path).query).items()}
        with self._lock:
            self.calls.append((time.monotonic(), q.get("query", ""), q.get("startdatetime", ""),
                               q.get("enddatetime", "")))
            first_kuril = self._kuril_429 and "Kuril" in q.get("query", "")
            if first_kuril:
                self._kuril_429 = False
        assert q.get("mode") == "artlist" and q.get("format") == "json"
        query = q["query"]
        if first_kuril:
            return 429, {"Retry-After": "0", "Content-Type": "text/plain"}, b"Too Many Requests"
        if "Eurasian" in query:
            return 200, {"Content-Type": "application/json"}, b'{"articles": [{"url": "https://x'
        if "Power of Siberia" in query:
            return 200, {"Content-Type": "text/html"}, b"Your search contained a phrase that was too short."
        key = "China" if "China" in query else "Japan" if "Japan" in query else None
        if key is None:
            return 200, {"Content-Type": "application/json"}, b"{}"
        start = datetime.strptime(q["startdatetime"], "%Y%m%d%H%M%S")
        end = datetime.strptime(q["enddatetime"], "%Y%m%d%H%M%S")
        hits = [a for a in self.articles[key]
                if start <= datetime.strptime(a["seendate"], "%Y%m%dT%H%M%SZ") <= end]
        hits = hits[: int(q.get("maxrecords", 75))]
        # Raw control characters inside strings, as GDELT sends them (invalid strict JSON).
        body = json.dumps({"articles": hits}, ensure_ascii=False).replace("\\u0001", "\x01")
        return 200, {"Content-Type": "application/json; charset=utf-8"}, body.encode()

    def requests_for(self, word: str) -> list[tuple[float, str, str, str]]:
        return [c for c in self.calls if word in c[1]]
