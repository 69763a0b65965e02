"""Article enrichment: what is added to a new article beyond its feed entry.

    netsafe  is a link safe to fetch (http(s), public address, resolvable)
    pages    fetch the article page politely (robots.txt, caps)
    extract  the main text of a page (content in, text out; no network)
    language the language of a text
"""
