"""``monitor extract``: a saved file, stdin, a URL through the safe fetcher, refusals."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from monitor.cli import cli
from tests.support.httpserver import LocalHTTPServer

PAGES = Path(__file__).parent / "fixtures" / "pages"


def run(args: list[str], home: Path, allow: str = "", stdin: bytes | None = None):
    env = {"MONITOR_HOME": str(home), "MONITOR_ALLOW_HOSTS": allow}
    return CliRunner().invoke(cli, args, env=env, input=stdin)


def test_help(home: Path) -> None:
    result = run(["extract", "--help"], home)
    assert result.exit_code == 0 and "URL" in result.output


def test_file_prints_the_golden_text(home: Path) -> None:
    result = run(["extract", str(PAGES / "zh_article.html")], home)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (PAGES / "zh_article.txt").read_text(encoding="utf-8").strip()


def test_stdin_with_metadata(home: Path) -> None:
    body = (PAGES / "ru_article.html").read_bytes()
    result = run(["extract", "-", "--meta"], home, stdin=body)
    assert result.exit_code == 0, result.output
    assert '"language": "ru"' in result.output and "Газпром" in result.output


def test_url_through_the_fetcher(home: Path, server: LocalHTTPServer) -> None:
    url = server.route("/a", (PAGES / "en_article.html").read_bytes(),
                       headers={"Content-Type": "text/html"})
    result = run(["extract", url], home, allow="127.0.0.1")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Japan and Russia agreed on Wednesday")


def test_loopback_url_is_refused_without_an_allow_list(home: Path, server: LocalHTTPServer) -> None:
    url = server.route("/a", "<p>secret</p>", headers={"Content-Type": "text/html"})
    result = run(["extract", url], home)
    assert result.exit_code == 1
    assert "unsafe_url" in result.output and "loopback" in result.output
    assert server.requests == []


def test_missing_file(home: Path) -> None:
    result = run(["extract", str(home / "nope.html")], home)
    assert result.exit_code == 1 and "no such file" in result.output


def test_unresolvable_host_is_a_dns_error(home: Path) -> None:
    result = run(["extract", "http://nonexistent.invalid/a.html"], home)
    assert result.exit_code == 1
    assert "dns_error: cannot resolve host nonexistent.invalid" in result.output
    assert "unsafe_url" not in result.output


def test_gzipped_file_and_stdin_are_unpacked(home: Path, tmp_path: Path) -> None:
    import gzip

    packed = tmp_path / "page.bin"  # found by the magic bytes, not by the name
    packed.write_bytes(gzip.compress((PAGES / "zh_article.html").read_bytes()))
    golden = (PAGES / "zh_article.txt").read_text(encoding="utf-8").strip()
    result = run(["extract", str(packed)], home)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == golden
    piped = run(["extract", "-"], home, stdin=packed.read_bytes())
    assert piped.exit_code == 0 and piped.output.strip() == golden


def test_gzip_bomb_stops_at_the_page_cap(home: Path, tmp_path: Path) -> None:
    import gzip

    bomb = tmp_path / "bomb.html.gz"
    bomb.write_bytes(gzip.compress(b"<p>" + b"a" * 3_000_000 + b"</p>"))
    result = CliRunner().invoke(cli, ["extract", str(bomb)],
                                env={"MONITOR_HOME": str(home), "MONITOR_MAX_PAGE_BYTES": "100000"})
    assert result.exit_code == 1 and "max_page_bytes" in result.output
