"""The taxonomy as data: ``seeds/topics.toml`` loaded into plain, typed records.

The topic ids and dyad ids are fixed (the warehouse, the digest and the trends views rely on
them), so loading checks that the file defines exactly those and fails with a clear message
otherwise. Term lists stay strings here; :mod:`monitor.classify.lexicon` compiles them.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from monitor.errors import ConfigError

__all__ = ["TOPIC_IDS", "DYAD_IDS", "Taxonomy", "TopicSpec", "DyadSpec", "load_taxonomy",
           "seed_paragraphs"]

#: Fixed topic ids, in taxonomy order (the order labels are written in).
TOPIC_IDS: tuple[str, ...] = (
    "kurils", "eaeu_bri", "sanctions", "energy", "military", "maritime", "korea", "investment",
)
#: Fixed dyad ids, in taxonomy order.
DYAD_IDS: tuple[str, ...] = ("russia_japan", "russia_china")


@dataclass(frozen=True)
class TopicSpec:
    id: str
    label: str
    description: str
    seed_paragraphs: tuple[int, ...]
    seed_quote: str
    terms: tuple[str, ...]
    weak: tuple[str, ...]
    exclude: tuple[str, ...]
    prototype: str


@dataclass(frozen=True)
class DyadSpec:
    id: str
    label: str
    actors: tuple[str, str]
    seed_paragraphs: tuple[int, ...]
    seed_quote: str


@dataclass(frozen=True)
class Taxonomy:
    """Everything the classifier knows from the seed file; ``digest`` versions it."""

    path: Path
    topics: dict[str, TopicSpec]
    dyads: dict[str, DyadSpec]
    actors: dict[str, tuple[str, ...]]
    actor_excludes: dict[str, tuple[str, ...]]
    interaction: tuple[str, ...]
    negative: dict[str, tuple[str, ...]]
    seed_file: Path
    digest: str = field(default="")


def _strings(table: dict, key: str, where: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: {key!r} must be a list of strings")
    return tuple(value)


def load_taxonomy(path: Path) -> Taxonomy:
    """Read and check ``topics.toml``. Raises :class:`ConfigError` naming the problem."""
    try:
        raw_bytes = path.read_bytes()
        data = tomllib.loads(raw_bytes.decode("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"topics file {path} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None

    topics_raw = data.get("topics", {})
    if tuple(topics_raw) != TOPIC_IDS:
        raise ConfigError(f"{path}: topics must be exactly {', '.join(TOPIC_IDS)} in that order;"
                          f" found {', '.join(topics_raw) or 'none'}")
    dyads_raw = data.get("dyads", {})
    if tuple(dyads_raw) != DYAD_IDS:
        raise ConfigError(f"{path}: dyads must be exactly {', '.join(DYAD_IDS)}")

    topics = {}
    for tid, t in topics_raw.items():
        where = f"{path} [topics.{tid}]"
        topics[tid] = TopicSpec(
            id=tid,
            label=str(t.get("label", tid)),
            description=str(t.get("description", "")),
            seed_paragraphs=tuple(int(p) for p in t.get("seed_paragraphs", [])),
            seed_quote=str(t.get("seed_quote", "")),
            terms=_strings(t, "terms", where),
            weak=_strings(t, "weak", where),
            exclude=_strings(t, "exclude", where),
            prototype=str(t.get("prototype", "")),
        )
    actors_raw = data.get("actors", {})
    for needed in ("russia", "japan", "china", "north_korea"):
        if needed not in actors_raw:
            raise ConfigError(f"{path}: missing [actors.{needed}]")
    dyads = {}
    for did, d in dyads_raw.items():
        pair = tuple(d.get("actors", []))
        if len(pair) != 2 or any(a not in actors_raw for a in pair):
            raise ConfigError(f"{path} [dyads.{did}]: actors must name two [actors.*] tables")
        dyads[did] = DyadSpec(
            id=did, label=str(d.get("label", did)), actors=pair,  # type: ignore[arg-type]
            seed_paragraphs=tuple(int(p) for p in d.get("seed_paragraphs", [])),
            seed_quote=str(d.get("seed_quote", "")),
        )
    return Taxonomy(
        path=path,
        topics=topics,
        dyads=dyads,
        actors={k: _strings(v, "terms", f"{path} [actors.{k}]") for k, v in actors_raw.items()},
        actor_excludes={k: _strings(v, "exclude", f"{path} [actors.{k}]")
                        for k, v in actors_raw.items()},
        interaction=_strings(data.get("interaction", {}), "terms", f"{path} [interaction]"),
        negative={k: _strings(data.get("negative", {}), k, f"{path} [negative]")
                  for k in data.get("negative", {})},
        seed_file=path.parent / str(data.get("seed_file", "")),
        digest=hashlib.sha1(raw_bytes).hexdigest()[:8],
    )


def seed_paragraphs(taxonomy: Taxonomy) -> list[str]:
    """The seed article's blank-line separated blocks (1-based numbering in topics.toml)."""
    try:
        text = taxonomy.seed_file.read_text(encoding="utf-8")
    except OSError:
        return []
    return [block.strip() for block in text.split("\n\n") if block.strip()]
