"""Settings layering, the sources file format, entry keys and the read-only SQL command."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from monitor.errors import ConfigError
from monitor.ingest.keys import _canonical_split, canonical_url, keys_for_feed
from monitor.ingest.parse import Entry
from monitor.settings import SettingsError, load_settings
from monitor.sources import load_sources

REPO = Path(__file__).resolve().parents[2]


def test_settings_layers_defaults_toml_env(tmp_path: Path) -> None:
    (tmp_path / "monitor.toml").write_text(
        'concurrency = 4\nrecipients = ["a@example.org", "b@example.org:kurils,energy"]\n'
        '[smtp]\nhost = "mail.example.org"\nport = 2525\n', encoding="utf-8")
    s = load_settings(home=tmp_path, env={"MONITOR_SMTP_PORT": "465", "MONITOR_SMTP_SSL": "yes"})
    assert s.home == tmp_path and s.warehouse_path == tmp_path / "warehouse.duckdb"
    assert s.concurrency == 4 and s.smtp_host == "mail.example.org"
    assert s.smtp_port == 465 and s.smtp_ssl is True  # environment wins over the file
    assert s.recipients == ("a@example.org", "b@example.org:kurils,energy")
    assert s.read_timeout == 20.0  # untouched default


def test_settings_errors_name_the_setting(tmp_path: Path) -> None:
    (tmp_path / "monitor.toml").write_text("concurency = 4\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="unknown setting 'concurency'"):
        load_settings(home=tmp_path, env={})
    with pytest.raises(SettingsError, match="MONITOR_RETRIES"):
        load_settings(home=tmp_path / "other", env={"MONITOR_RETRIES": "many"})


def test_shipped_sources_file_is_valid_and_balanced() -> None:
    sources = load_sources(REPO / "seeds" / "sources.toml")
    assert len(sources) >= 30
    countries = {s.country for s in sources}
    assert {"RU", "JP", "CN"} <= countries
    assert {s.language for s in sources} >= {"en", "ru", "ja", "zh"}
    assert any(s.kind == "search" and "news.google.com" in s.url for s in sources)
    assert any(s.kind == "search" and "gdeltproject.org" in s.url for s in sources)


@pytest.mark.parametrize(("text", "message"), [
    ('[[sources]]\nid = "a"\nurl = "https://x.org/f"\n', "'outlet' is required"),
    ('[[sources]]\nid = "A B"\nurl = "https://x.org/f"\noutlet = "X"\n', "lower-case slug"),
    ('[[sources]]\nid = "a"\nurl = "ftp://x.org/f"\noutlet = "X"\n', "must be http"),
    ('[[sources]]\nid = "a"\nurl = "https://x.org/f"\noutlet = "X"\nkind = "blog"\n', "kind"),
    ('[[sources]]\nid = "a"\nurl = "https://x.org/f"\noutlet = "X"\n' * 2, "duplicate id"),
    ('[[sources]]\nid = "a"\nurl = "https://x.org/f"\noutlet = "X"\nfoo = 1\n', "unknown keys"),
    ("sources = 3\n", "array of tables"),
], ids=["no-outlet", "bad-slug", "ftp", "bad-kind", "duplicate", "unknown-key", "not-array"])
def test_sources_file_errors_are_clear(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "sources.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_sources(path)


@pytest.mark.parametrize(("url", "expected"), [
    ("HTTP://WWW.Example.COM:80/a/b/?utm_source=rss&id=7&fbclid=x#frag",
     "https://example.com/a/b?id=7"),
    ("https://example.com/", "https://example.com/"),
    ("https://example.com:8443/x?b=2&a=1", "https://example.com:8443/x?b=2&a=1"),
    ("javascript:alert(1)", None),
    ("", None),
])
def test_canonical_url(url: str, expected: str | None) -> None:
    assert canonical_url(url) == expected


def test_canonical_url_shortcuts_agree_with_the_full_parse() -> None:
    """The two regular-expression shortcuts give what the full split and re-join gives, on
    generated URLs that mix what the shortcuts take with what they must not (escapes, "+",
    ";", ports, capitals, fragments, blank and repeated parameters, tracking names)."""
    rng = random.Random(14)
    hosts = ["example.com", "www.example.com", "News.Example.org", "a-b.c.d.e", "10.0.0.1",
             "example.com:8080", "example.com:443", "www.", "x"]
    paths = ["", "/", "/a", "/a/", "/a/b-c.html", "/%D0%B0", "//x", "/a b", "/a:b", "/~u/"]
    names = ["id", "p", "utm_source", "UTM_Medium", "at_medium", "fbclid", "ref", "x.y",
             "a~b", "k-1", "post_type", "", "a%20b", "a+b"]
    values = ["", "1", "x-y", "RSS", "a.b~c", "%2F", "a b", "a+b", "=", "é"]
    ends = ["", "", "", "#frag", "&", ";x=1", "\n"]
    for _ in range(5000):
        query = "&".join(f"{rng.choice(names)}={rng.choice(values)}"
                         for _ in range(rng.randrange(0, 4)))
        url = (f"{rng.choice(['http', 'https', 'HTTP'])}://{rng.choice(hosts)}"
               f"{rng.choice(paths)}{rng.choice(['', '?', '?' + query, '?' + query])}"
               f"{rng.choice(ends)}")
        assert canonical_url.__wrapped__(url) == _canonical_split(url), url


def _entry(guid: str | None, link: str | None, title: str = "t") -> Entry:
    return Entry(title=title, link=link, guid=guid, summary="s", published_at=None,
                 date_flag="missing")


def test_entry_keys_prefer_stable_guids() -> None:
    keys = keys_for_feed([
        _entry("https://site.org/a?utm_medium=x", "https://site.org/a-pretty"),  # URL GUID
        _entry("urn:uuid:1234", "https://site.org/b"),  # global non-URL GUID
        _entry("12345", "https://site.org/c"),  # opaque: scoped to the source
        _entry(None, "https://site.org/d?utm_source=y"),  # no GUID: canonical URL
        _entry(None, None, title="only text"),  # nothing: content hash
        _entry("same", "https://site.org/e"),  # one GUID, two links: not trusted
        _entry("same", "https://site.org/f"),
    ], "src")
    assert keys[:4] == ["guid:https://site.org/a", "guid:urn:uuid:1234", "guid:src:12345",
                        "url:https://site.org/d"]
    assert keys[4].startswith("hash:")
    assert keys[5:] == ["url:https://site.org/e", "url:https://site.org/f"]


def test_sql_command_reads_and_refuses_writes(settings) -> None:
    env = {"MONITOR_HOME": str(settings.home)}
    runner = CliRunner()
    assert runner.invoke(cli, ["init"], env=env).exit_code == 0
    ok = runner.invoke(cli, ["sql", "SELECT count(*) AS n FROM sources", "--format", "json"],
                       env=env)
    assert ok.exit_code == 0 and '"n":' in ok.output
    for statement in ("DROP TABLE articles", "INSERT INTO labels VALUES (1)",
                      "COPY articles TO '/tmp/x.csv'", "ATTACH '/tmp/other.db'",
                      "SELECT 1; DELETE FROM articles"):
        refused = runner.invoke(cli, ["sql", statement], env=env)
        assert refused.exit_code == 1, statement
        assert "read-only" in refused.output
    no_files = runner.invoke(cli, ["sql", "SELECT * FROM read_csv('/etc/passwd')"], env=env)
    assert no_files.exit_code == 1 and "query failed" in no_files.output


def test_every_command_has_help() -> None:
    runner = CliRunner()
    top = runner.invoke(cli, ["--help"])
    assert top.exit_code == 0
    names = [line.split()[0] for line in top.output.split("Commands:")[1].splitlines()
             if line.strip()]
    assert {"init", "ingest", "sources", "sql"} <= set(names)
    for name in names:
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output, name


def test_sql_from_a_comment_first_argument_a_file_and_stdin(settings, tmp_path) -> None:
    # Every file in warehouse/queries starts with a "--" comment (issue 13, item 6).
    env = {"MONITOR_HOME": str(settings.home)}
    runner = CliRunner()
    assert runner.invoke(cli, ["init"], env=env).exit_code == 0
    query = (REPO / "warehouse" / "queries" / "failing_feeds.sql").read_text(encoding="utf-8")
    assert query.startswith("--")
    pasted = runner.invoke(cli, ["sql", query, "--format", "csv"], env=env)
    assert pasted.exit_code == 0, pasted.output
    assert pasted.output.startswith("source_id,outlet,status")
    from_file = runner.invoke(cli, ["sql", "-f", str(REPO / "warehouse" / "queries" /
                                                   "failing_feeds.sql"), "--format", "csv"],
                              env=env)
    assert from_file.exit_code == 0 and from_file.output == pasted.output
    dash = runner.invoke(cli, ["sql", "-", "--format", "csv"], env=env, input=query)
    assert dash.exit_code == 0 and dash.output == pasted.output
    piped = runner.invoke(cli, ["sql", "--format", "csv"], env=env, input=query)
    assert piped.exit_code == 0 and piped.output == pasted.output
    (tmp_path / "x.sql").write_text("SELECT 2", encoding="utf-8")
    both = runner.invoke(cli, ["sql", "SELECT 1", "-f", str(tmp_path / "x.sql")], env=env)
    assert both.exit_code == 1 and "not both" in both.output


@pytest.mark.parametrize("statement", ["INSTALL httpfs", "LOAD httpfs",
                                       "SELECT 1; INSTALL httpfs"])
def test_sql_extensions_are_refused_with_the_reason(settings, statement) -> None:
    env = {"MONITOR_HOME": str(settings.home)}
    runner = CliRunner()
    assert runner.invoke(cli, ["init"], env=env).exit_code == 0
    refused = runner.invoke(cli, ["sql", statement], env=env)
    assert refused.exit_code == 1
    assert "extensions and network access are off" in refused.output
    assert "Traceback" not in refused.output
