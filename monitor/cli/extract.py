"""``monitor extract URL_OR_FILE``: print the main text of an article page."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import click

from monitor.cli.app import cli, fail, pass_settings
from monitor.settings import Settings

_GZIP_MAGIC = b"\x1f\x8b"


def _gunzip_if_gzip(raw: bytes, cap: int) -> bytes:
    """Saved pages are often ``.html.gz``: unpack by magic bytes, not by name, up to ``cap``."""
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    unpack = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = unpack.decompress(raw, cap + 1)
    except zlib.error as exc:
        fail(f"looks gzip-compressed but does not unpack: {exc}")
    if len(out) > cap:
        fail(f"unpacks to more than max_page_bytes ({cap} bytes)")
    return out


@cli.command()
@click.argument("target")
@click.option("--meta", is_flag=True, help="Also print the page's metadata (JSON) first.")
@click.option("--url", "base_url", help="The page's address, when TARGET is a file.")
@pass_settings
def extract(settings: Settings, target: str, meta: bool, base_url: str | None) -> None:
    """Print the main text of an article page (a URL, a saved HTML file, or - for stdin).

    A gzip-compressed file or stdin (e.g. page.html.gz) is unpacked first.

    A URL is fetched like the monitor fetches article pages: http(s) only, no private or
    loopback addresses unless allowed in settings, robots.txt honoured, size and time capped.

    \b
    Examples:
      monitor extract https://www.example.com/news/article.html
      monitor extract saved-page.html --meta
      curl -s https://… | monitor extract -
    """
    from monitor.enrich.extract import extract_metadata, extract_text
    from monitor.enrich.pages import PageFetcher, decode_html, make_client

    if target == "-":
        raw = click.get_binary_stream("stdin").read()
        html = decode_html(_gunzip_if_gzip(raw, settings.max_page_bytes))
        url = base_url
    elif target.startswith(("http://", "https://")) or "://" in target:
        with make_client(settings) as client:
            result = PageFetcher(settings, client).fetch(target)
        if result.status != "ok":
            fail(f"{target}: {result.status}: {result.error}")
        if meta:
            click.echo(json.dumps(result.metadata, default=str, ensure_ascii=False, indent=2))
        click.echo(result.text)
        return
    else:
        path = Path(target)
        if not path.is_file():
            fail(f"{target}: no such file (give an http(s) URL, a file or -)")
        html = decode_html(_gunzip_if_gzip(path.read_bytes(), settings.max_page_bytes))
        url = base_url
    if meta:
        click.echo(json.dumps(extract_metadata(html, url), default=str, ensure_ascii=False,
                              indent=2))
    text = extract_text(html, url)
    if not text:
        fail("no article text found")
    click.echo(text)
