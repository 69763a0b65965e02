"""The digest end to end: a real SMTP server receives it, the MIME is parsed and checked;
idempotency, retries, the outbox, an empty day and the safety rules."""

from __future__ import annotations

import email
from datetime import date
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest

from monitor import warehouse
from monitor.digest import DigestSendError, parse_recipients, preview_digest, run_digest
from monitor.digest.build import group_stories, make_lead, normalise_title
from monitor.digest.render import compose_message, header_safe, safe_url
from monitor.settings import Settings
from tests.digest.conftest import DAY, HOSTILE_TITLE


def parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, _class=EmailMessage, policy=default)


def parts(msg: EmailMessage) -> tuple[str, str]:
    assert msg.get_content_type() == "multipart/alternative"
    types = [p.get_content_type() for p in msg.iter_parts()]
    assert types == ["text/plain", "text/html"]
    return msg.get_body(("plain",)).get_content(), msg.get_body(("html",)).get_content()


def smtp(settings: Settings, port: int) -> Settings:
    return settings.with_(smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False,
                          smtp_timeout=5.0)


def digest_rows(settings: Settings) -> dict[str, tuple]:
    with warehouse.reader(settings) as con:
        rows = con.execute("SELECT recipient, status, attempts, transport, message_id, path"
                           " FROM digests WHERE digest_date = ?", [DAY]).fetchall()
    return {r[0]: r[1:] for r in rows}


def test_smtp_delivery_parts_subject_stories_and_escaping(digest_settings, smtp_server):
    inbox, port = smtp_server
    settings = smtp(digest_settings, port)
    result = run_digest(settings, DAY)
    assert result["sent"] == 2 and result["transport"] == "smtp"
    assert sorted(m[1][0] for m in inbox.messages) == ["alice@example.org", "bob@example.org"]
    by_rcpt = {m[1][0]: parse(m[2]) for m in inbox.messages}

    alice = by_rcpt["alice@example.org"]
    subject = alice["Subject"]
    assert "2026-11-20" in subject and "11 articles" in subject
    assert subject.endswith("biggest mover: Energy +800%, spike")  # 9 vs 1/day
    assert "\r" not in subject and "\n" not in subject
    # Header injection from titles / outlets: no extra headers made it in.
    assert alice["Bcc"] is None and alice["X-Evil"] is None
    assert alice["From"] == "monitor@example.org" and alice["To"] == "alice@example.org"
    text, html = parts(alice)

    # One entry for the three-outlet story, led by the first outlet.
    assert html.count("Power of Siberia 2") == 1
    assert "also in: Xinhua, SCMP" in html and "also in: Xinhua, SCMP" in text
    assert 'href="https://tass.example/power-of-siberia-2"' in html
    assert "Gazprom and CNPC signed the contract in Beijing. Gas flows from 2030." in html
    assert "A third sentence" not in html  # the lead is at most two sentences
    # Hostile content is text, not markup; javascript: is not a link.
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "javascript:" not in html.lower() and "javascript:" not in text.lower()
    assert "Kyodo X-Evil: 1" in html  # CR/LF in the outlet became a space
    # Sections, chart, spike, feed warnings.
    assert 'data-topic="energy"' in html and 'data-topic="kurils"' in html
    assert "== Energy (9: Russia–China 9) ==" in text
    assert "== Kuril Islands (2: Russia–Japan 2) ==" in text
    assert html.count('class="chart"') >= 2
    assert "Spikes: Energy 8 stories in 9 articles" in text  # measured on stories
    assert "Down Daily" in html and "&lt;b&gt;busy&lt;/b&gt;" in html
    assert "<b>busy" not in html

    bob_text, bob_html = parts(by_rcpt["bob@example.org"])
    assert 'data-topic="kurils"' in bob_html and 'data-topic="energy"' not in bob_html
    assert "Power of Siberia" not in bob_text

    rows = digest_rows(settings)
    assert {r: v[:3] for r, v in rows.items()} == {
        "alice@example.org": ("sent", 1, "smtp"), "bob@example.org": ("sent", 1, "smtp")}
    assert rows["alice@example.org"][3] == alice["Message-ID"].strip()
    assert Path(rows["alice@example.org"][4]).exists()  # the copy in the outbox


def test_second_run_does_not_resend_unless_forced(digest_settings, smtp_server):
    inbox, port = smtp_server
    settings = smtp(digest_settings, port)
    run_digest(settings, DAY)
    again = run_digest(settings, DAY)
    assert again["skipped"] == 2 and again["sent"] == 0
    assert len(inbox.messages) == 2
    forced = run_digest(settings, DAY, force=True)
    assert forced["sent"] == 2 and len(inbox.messages) == 4
    assert {v[1] for v in digest_rows(settings).values()} == {2}


def test_failed_send_is_recorded_and_retried_with_the_same_message(digest_settings,
                                                                   smtp_server):
    inbox, port = smtp_server
    settings = smtp(digest_settings.with_(recipients=("alice@example.org",)), port)
    inbox.reject = 1
    with pytest.raises(DigestSendError, match="alice@example.org"):
        run_digest(settings, DAY)
    status, attempts, _, message_id, path = digest_rows(settings)["alice@example.org"]
    assert (status, attempts) == ("failed", 1)
    assert Path(path).exists(), "the digest is kept in the outbox"
    assert inbox.messages == []

    result = run_digest(settings, DAY)
    assert result["sent"] == 1
    status, attempts, _, _, _ = digest_rows(settings)["alice@example.org"]
    assert (status, attempts) == ("sent", 2)
    assert parse(inbox.messages[0][2])["Message-ID"].strip() == message_id


def test_unreachable_smtp_server_fails_cleanly(digest_settings):
    from tests.support.smtp import free_port as _free_port

    settings = smtp(digest_settings.with_(recipients=("alice@example.org",)), _free_port())
    with pytest.raises(DigestSendError, match="ConnectionRefusedError"):
        run_digest(settings, DAY)
    assert digest_rows(settings)["alice@example.org"][0] == "failed"


def test_outbox_without_smtp_settings(digest_settings):
    result = run_digest(digest_settings, DAY)
    assert result["transport"] == "outbox" and result["sent"] == 2
    files = sorted((digest_settings.outbox_dir / "2026-11-20").glob("*.eml"))
    assert [f.name for f in files] == ["alice@example.org.eml", "bob@example.org.eml"]
    text, html = parts(parse(files[0].read_bytes()))
    assert "Power of Siberia 2" in text
    assert run_digest(digest_settings, DAY)["skipped"] == 2


def test_day_without_articles(settings: Settings):
    settings = settings.with_(recipients=("alice@example.org",))
    run_digest(settings, date(2026, 1, 1))
    msg = parse(next((settings.outbox_dir / "2026-01-01").glob("*.eml")).read_bytes())
    # Nothing configured, nothing answered: a blind day, not a quiet one.
    assert msg["Subject"] == ("Russia–Asia digest 2026-01-01 · BLIND: no source answered, "
                              "no relevant articles")
    text, html = parts(msg)
    assert "No relevant articles on 2026-01-01, because the monitor was blind" in text
    assert 'class="empty"' in html


def test_dry_run_writes_and_sends_nothing(digest_settings):
    result = run_digest(digest_settings, DAY, send=False)
    assert result["articles"] == 11 and result["stories"] == 9
    assert not any(digest_settings.outbox_dir.rglob("*.eml"))
    assert digest_rows(digest_settings) == {}


def test_timezone_decides_which_articles_are_yesterday(digest_settings):
    # 08:00–16:00 UTC on Nov 20 is 17:00–01:00 in Tokyo: the 15:00 and 16:00 UTC articles
    # and the 13:00 kurils one fall ... 13:00 UTC is 22:00 JST (Nov 20); 15:00 UTC is Nov 21.
    tokyo = digest_settings.with_(timezone="Asia/Tokyo")
    result = preview_digest(tokyo, DAY)
    assert result["articles"] == 9  # the energy items at 15:00 and 16:00 UTC moved on
    assert "Days in Asia/Tokyo" in result["text"]


@pytest.mark.parametrize("url, expected", [
    ("https://example.org/a?b=1", "https://example.org/a?b=1"),
    ("HTTP://EXAMPLE.org/", "HTTP://EXAMPLE.org/"),
    ("javascript:alert(1)", None),
    ("JaVaScRiPt:alert(1)", None),
    (" javascript:alert(1)", None),
    ("data:text/html,<script>x</script>", None),
    ("vbscript:msgbox", None),
    ("https://exa mple.org/", None),
    ("https://example.org/\r\nX: y", None),
    ("//example.org/no-scheme", None),
    ("https:///no-host", None),
    ("", None),
    (None, None),
], ids=lambda v: repr(v)[:30])
def test_only_http_links(url, expected):
    assert safe_url(url) == expected


def test_header_values_lose_line_breaks():
    msg = compose_message(subject="Digest\r\nBcc: evil@x.example", html_body="<p>x</p>",
                          text_body="x", mail_from="m@example.org\nX-A: 1",
                          to="a@example.org", day=DAY)
    raw = msg.as_bytes()
    assert b"\nBcc:" not in raw and b"\nX-A:" not in raw
    assert header_safe("a\u2028b\x00c") == "a b c"


def test_recipients_with_topic_filters():
    assert parse_recipients(("a@x.org", "b@x.org:kurils, energy", "not an address",
                             "c@x.org\r\nBcc: d@x.org")) == [
        ("a@x.org", None), ("b@x.org", ("kurils", "energy"))]


def test_story_grouping_and_leads():
    base = {"outlet": "A", "url": None, "lead": "", "dyads": [], "topics": []}
    arts = [
        {**base, "article_id": "1", "ts": 1, "story_key": "c1", "title": "Same story"},
        {**base, "article_id": "2", "ts": 2, "story_key": "c1", "title": "Other words",
         "outlet": "B"},
        {**base, "article_id": "3", "ts": 3, "story_key": "3", "title": "SAME story!",
         "outlet": "C"},
        {**base, "article_id": "4", "ts": 4, "story_key": "4", "title": "Unrelated"},
    ]
    stories = group_stories(arts)
    assert [(s["article_id"], s["also_in"]) for s in stories] == [("1", ["B", "C"]), ("4", [])]
    assert normalise_title("Ｒｕｓｓｉａ — Japan!") == "russia japan"
    assert make_lead("Title here. First. Second. Third.", "Title here") == "First. Second."
    assert len(make_lead("x" * 1000)) == 280
    assert HOSTILE_TITLE  # used by the browser test


def test_story_grouping_follows_clusters_assigned_after_the_trend_refresh(digest_settings):
    from monitor import trends

    with warehouse.writer(digest_settings) as con:
        trends.refresh_trends(con)
        # The clusterer later joins an energy item to the Power of Siberia story.
        con.execute("UPDATE articles SET cluster_id = 'c1' WHERE title = 'Energy item number 0'")
    result = preview_digest(digest_settings, DAY)
    assert result["stories"] == 8
    assert "Energy item number 0" not in result["text"]


def test_size_is_bounded_on_a_flood_day(settings: Settings):
    """200 long-titled stories in one topic, 40 failing feeds: the message stays small."""
    from datetime import datetime, timedelta

    from tests.trends.builder import add_article, add_feed_state, add_source

    now = datetime(2026, 11, 20, 12)
    with warehouse.writer(settings) as con:
        add_source(con, "tass", "TASS", "RU")
        for i in range(200):
            add_article(con, published=now, title=f"{i} " + "very long title " * 40,
                        summary="word " * 500)
        for i in range(40):
            add_source(con, f"bad{i}", f"Bad {i}")
            add_feed_state(con, f"bad{i}", last_attempt_at=now, last_ok_at=None, failures=3,
                           failing_since=now - timedelta(days=3), last_error="x" * 1000)
    result = preview_digest(settings.with_(recipients=("a@example.org",)), date(2026, 11, 20))
    assert len(result["html"].encode()) < 60_000
    assert "and 195 more stories" in result["html"] and "and 20 more" in result["html"]
    assert len(result["text"]) < 20_000
