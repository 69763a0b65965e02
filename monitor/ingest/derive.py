"""What is derived from new articles before they are staged: language, full text, page
kind, classification and story sketches.

Each runs in the (parallel) fetch step so the single writer only stores. Each fails soft: an
article that could not be enriched, classified or sketched is still staged and stored.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from monitor.settings import Settings

__all__ = ["classify", "detect_languages", "enrich", "page_kinds", "sketch"]

log = logging.getLogger(__name__)

#: Which declared languages a text's dominant script confirms.
_SCRIPT_LANGUAGES = {
    "latin": {"en", "fr", "de", "es", "it", "pt", "nl", "pl", "cs", "tr", "id", "vi", "sv",
              "no", "da", "fi", "ro", "hu"},
    "cyrillic": {"ru", "uk", "be", "bg", "sr", "mk", "kk", "ky", "mn"},
    "kana": {"ja"},
    "han": {"zh", "ja"},
    "hangul": {"ko"},
}


def detect_languages(articles: list[dict[str, Any]]) -> None:
    """The language of each article: the feed's declared one when the text's script agrees
    with it, else detected from the text (feeds often declare one language site-wide, and
    aggregators none). The statistical detector only runs where it can change the answer."""
    from monitor.enrich.language import detect_language, script_profile

    for a in articles:
        text = f"{a['title']}\n{a['summary'] or ''}"
        declared = a.get("language")
        if declared:
            counts = script_profile(text[:400])
            script = max(counts, key=counts.get)
            # (Han script with kana in it is Japanese whatever the feed says.)
            if counts[script] and declared in _SCRIPT_LANGUAGES.get(script, ()) and not (
                    script == "han" and counts["kana"] and declared != "ja"):
                continue
        detected = detect_language(text)
        if detected:
            a["language"] = detected


def enrich(settings: Settings, articles: list[dict[str, Any]]) -> None:
    """Fetch and extract the full page of possibly relevant new articles (cheap first).
    Feed items that are not articles (page kinds, decided here from the feed's data) are
    not fetched: an index page's text is a list of other stories."""
    if not settings.extract_enabled or not articles:
        return
    from monitor.classify import is_candidate

    page_kinds(articles)
    wanted = [a for a in articles if a["page_kind"] == "article" and (
        not settings.extract_only_candidates or is_candidate(a["title"], a["summary"]))]
    if not wanted:
        return
    from monitor.enrich.pages import enrich_articles

    try:
        enriched = enrich_articles(settings, wanted)
    except Exception:  # full text is an improvement, never a reason to lose the batch
        log.exception("full-text extraction failed for a batch; keeping feed summaries")
        return
    by_id = {a["article_id"]: a for a in enriched}
    for a in articles:
        if a["article_id"] in by_id:
            a.update({k: v for k, v in by_id[a["article_id"]].items() if k in a})


def page_kinds(articles: list[dict[str, Any]]) -> None:
    """Tag each article with what it is (``page_kind``, ``page_kind_reason``): an article,
    or an index page, live-blog shell, video, gallery, "most read" box or headline list.
    Idempotent: an article already tagged keeps its tag."""
    from monitor.enrich.pagekind import page_kind

    for a in articles:
        if a.get("page_kind"):
            continue
        a["page_kind"], reason = page_kind(a.get("title"), a.get("summary"), a.get("url"),
                                           a.get("body"))
        a["page_kind_reason"] = reason or None


def _not_an_article(a: dict[str, Any], model_version: str) -> dict[str, Any]:
    """The classification of a feed item that is not an article: not relevant, with the
    page-kind rule as its evidence (the classifier never sees it: a list of headlines names
    every country and would look like relations news)."""
    return {
        "type": "classification", "article_id": a["article_id"], "model_version": model_version,
        "relevant": False, "dyads": [], "topics": [], "scores": "{}",
        "evidence": json.dumps({"page_kind": [f"{a['page_kind']}: {a['page_kind_reason']}"]},
                               ensure_ascii=False),
    }


def classify(settings: Settings, articles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Classify new articles; a classifier failure leaves them unclassified, not lost.

    Page kinds are decided first (by :func:`enrich` when it ran); items that are not
    articles get a not-relevant classification with the reason, without the classifier.
    """
    if not articles:
        return []
    page_kinds(articles)
    try:
        from monitor.classify import load_classifier

        classifier = load_classifier(settings)
        items = [{"id": a["article_id"], "title": a["title"],
                  "text": a["body"] or a["summary"] or "", "language": a["language"]}
                 for a in articles if a["page_kind"] == "article"]
        predictions = classifier.classify(items) if items else []
    except Exception:
        log.exception("classification failed; articles are stored unclassified "
                      "(run `monitor reclassify` once fixed)")
        return []
    out = [_not_an_article(a, classifier.version) for a in articles
           if a["page_kind"] != "article"]
    candidates = {p.id: p.candidate for p in predictions}
    for a in articles:
        # Only possibly relevant articles become stories (see sketch); left unset (NULL,
        # clustered) when the classifier did not run.
        a["candidate"] = candidates.get(a["article_id"], False)
    for p in predictions:
        d = p.to_json()
        out.append({
            "type": "classification", "article_id": d["id"], "model_version": d["model_version"],
            "relevant": d["relevant"], "dyads": d["dyads"], "topics": d["topics"],
            "scores": json.dumps(d["scores"]), "evidence": json.dumps(d["evidence"],
                                                                      ensure_ascii=False),
        })
    return out


def sketch(articles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Story-cluster sketches of new articles, computed here in the (parallel) fetch step so
    the single writer only compares them. A failure costs nothing: the store computes what
    is missing.

    Only articles that become stories are sketched: feed items that are articles, and that
    :func:`classify` found possibly relevant (``candidate``; unset when it did not run). A
    general news feed's sport and weather are stored and classified, never clustered.
    """
    articles = [a for a in articles if a.get("page_kind", "article") == "article"
                and a.get("candidate") is not False]
    if not articles:
        return []
    try:
        from monitor.stories.clusters import sketch_rows

        return [{"type": "sketch", **row} for row in sketch_rows(articles)]
    except Exception:
        log.exception("sketching %d new articles failed; the store will sketch them",
                      len(articles))
        return []

