"""The one settings object.

Every tunable of the monitor lives here, typed and with its default, so that a reader finds
all knobs in one file (trafilatura's ``settings.py`` habit). Values come from three layers,
later ones winning:

1. the defaults below;
2. a TOML file: ``$MONITOR_CONFIG`` if set, else ``$MONITOR_HOME/monitor.toml`` if it exists.
   Sections map onto prefixed names: ``[smtp] host = "…"`` sets ``smtp_host``; top-level keys
   set the field of the same name;
3. environment variables ``MONITOR_<FIELD>`` (upper case), e.g. ``MONITOR_SMTP_HOST``.

Settings are passed explicitly (``load_settings()`` once at the edge, then handed down),
never read from globals deep inside the library.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, get_type_hints

__all__ = ["Settings", "load_settings", "REPO_ROOT", "SettingsError", "TOPIC_IDS",
           "DEFAULT_CONTACT_URL", "validate"]

#: The checkout this package lives in (``monitor/`` is one level down). Seeds, migrations and
#: views are read from here; the data directory defaults to ``var/`` inside it.
REPO_ROOT = Path(__file__).resolve().parent.parent


#: The fixed topic ids (``monitor.classify.topics.TOPIC_IDS``, pinned equal by a test). A copy,
#: because importing the classifier package to check a recipient's filter would pull numpy
#: into every command.
TOPIC_IDS: tuple[str, ...] = (
    "kurils", "eaeu_bri", "sanctions", "energy", "military", "maritime", "korea", "investment",
)
#: The shipped ``contact_url``: a placeholder every operator must replace with their own
#: (``monitor config`` warns while it is in place).
DEFAULT_CONTACT_URL = "https://github.com/russia-asia-monitor/monitor"


class SettingsError(ValueError):
    """A setting has a value we cannot use; the message names the setting and the source."""


@dataclass(frozen=True)
class Settings:
    # --- where things live -------------------------------------------------------------
    home: Path = REPO_ROOT / "var"
    sources_file: Path = REPO_ROOT / "seeds" / "sources.toml"
    topics_file: Path = REPO_ROOT / "seeds" / "topics.toml"
    warehouse_dir: Path = REPO_ROOT / "warehouse"

    # --- fetching ------------------------------------------------------------------------
    user_agent: str = "RussiaAsiaMonitor/0.1"
    #: Where site owners can reach the operator; sent in the User-Agent. Set your own.
    contact_url: str = DEFAULT_CONTACT_URL
    connect_timeout: float = 10.0
    #: Seconds without a byte before a request is given up (and retried). Feeds' requests
    #: count it in whole seconds, rounded up (libcurl's low-speed check); pages' exactly.
    read_timeout: float = 20.0
    #: Wall-clock cap for one source in one run: every attempt, retry and Retry-After wait
    #: of it, body download included. A trickling server is cut off, and a source that hits
    #: the cap is not retried before the next run.
    total_timeout: float = 60.0
    #: Wall-clock deadline for the fetching of one run (``monitor ingest``, or one Airflow
    #: fetch task). Sources still running then are recorded as failed ("run deadline of …
    #: reached") and what was fetched is stored. The default leaves a 60 s source its whole
    #: cap plus slots for late starters, and keeps a run with misbehaving servers under
    #: 90 s (bench/misbehaving.py).
    run_deadline_seconds: float = 75.0
    max_body_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    #: Requests in flight per fetching process. A feed request is small and the per-host
    #: limit below is what protects each server, so this only bounds sockets.
    concurrency: int = 64
    per_host_concurrency: int = 2
    #: Worker processes ``monitor ingest`` parses, classifies and stages in (fetching stays
    #: in the main process, one client and one per-host limit). 0: one per CPU, at most 4,
    #: and only when there are enough sources to share out (Airflow runs its own parallel
    #: tasks).
    ingest_workers: int = 0
    retries: int = 2
    backoff_base: float = 1.0
    #: Upper bound for honouring a server's Retry-After inside one run; longer waits are
    #: turned into the source's next poll time instead of sleeping.
    max_retry_after: float = 30.0
    #: Failing sources are polled less often: next poll = now + base * 2**(failures-1), capped.
    failure_backoff_minutes: int = 30
    failure_backoff_max_hours: int = 24

    # --- full text -----------------------------------------------------------------------
    extract_enabled: bool = True
    #: Only fetch article pages of entries whose title+summary look possibly relevant.
    extract_only_candidates: bool = True
    #: Hosts that may be fetched even though they resolve to private/loopback addresses.
    allow_hosts: tuple[str, ...] = ()
    max_page_bytes: int = 5 * 1024 * 1024

    # --- backfill ------------------------------------------------------------------------
    #: GDELT DOC 2.0 API endpoint (a mirror or, in tests, a local server).
    gdelt_api_url: str = "https://api.gdeltproject.org/api/v2/doc/doc"
    #: Seconds between GDELT requests; GDELT asks for at most one every 5 seconds.
    gdelt_interval: float = 5.0

    # --- warehouse -----------------------------------------------------------------------
    #: How long a writer waits for the DuckDB file lock before the batch is left staged.
    writer_lock_timeout: float = 120.0
    #: How long a reader retries while the file is briefly locked.
    reader_lock_timeout: float = 10.0
    staging_retention_days: int = 14

    # --- run health ----------------------------------------------------------------------
    #: A run is blind (``monitor ingest`` exits 3, Airflow's run fails) when none of its
    #: sources answered or when this share of them failed; 1.0: only when every one failed.
    blind_failure_share: float = 1.0

    # --- schedule, time ------------------------------------------------------------------
    timezone: str = "UTC"
    ingest_every_minutes: int = 30
    digest_hour: int = 7
    retrain_cron: str = "0 3 * * 1"
    maintenance_cron: str = "30 2 * * *"

    # --- email ---------------------------------------------------------------------------
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = True
    smtp_ssl: bool = False
    smtp_timeout: float = 30.0
    #: Use Airflow's ``smtp_default`` connection when running inside Airflow.
    smtp_use_airflow_connection: bool = False
    mail_from: str = "monitor@localhost"
    #: Digest recipients: ``"a@x.org"`` or ``"a@x.org:kurils,energy"`` (a topic filter).
    recipients: tuple[str, ...] = ("reader@localhost",)
    ops_email: str = "ops@localhost"

    # --- Airflow (embedded start) --------------------------------------------------------
    airflow_port: int = 8080
    airflow_host: str = "127.0.0.1"
    admin_user: str = "admin"
    #: Empty: generated once and kept in $MONITOR_HOME/airflow/admin-password.
    admin_password: str = ""

    # --- derived paths -------------------------------------------------------------------
    @property
    def warehouse_path(self) -> Path:
        """The writer's DuckDB file. Only the monitor's writer opens it read-write."""
        return self.home / "warehouse.duckdb"

    @property
    def snapshot_path(self) -> Path:
        """The published read-only copy analysts, the UI and ``monitor sql`` open."""
        return self.home / "warehouse-read.duckdb"

    @property
    def staging_dir(self) -> Path:
        return self.home / "staging"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def outbox_dir(self) -> Path:
        return self.home / "outbox"

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    @property
    def migrations_dir(self) -> Path:
        return self.warehouse_dir / "migrations"

    @property
    def views_dir(self) -> Path:
        return self.warehouse_dir / "views"

    @property
    def http_user_agent(self) -> str:
        """An honest User-Agent: who we are and where to complain."""
        return f"{self.user_agent} (+{self.contact_url})"

    def with_(self, **changes: Any) -> Settings:
        """A copy with some fields changed (tests and ``--home`` use this)."""
        return dataclasses.replace(self, **changes)

    def ensure_dirs(self) -> None:
        for path in (self.home, self.staging_dir, self.models_dir, self.outbox_dir):
            path.mkdir(parents=True, exist_ok=True)


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _coerce(name: str, kind: Any, value: Any, origin: str) -> Any:
    """Turn a TOML or environment value into the field's type, or say clearly why not."""
    try:
        if kind is Path:
            return Path(os.path.expanduser(str(value)))
        if kind is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise ValueError(f"expected true/false, got {value!r}")
        if kind is int:
            return int(value)
        if kind is float:
            return float(value)
        if kind == tuple[str, ...]:
            if isinstance(value, str):
                return tuple(part.strip() for part in value.split(";") if part.strip())
            return tuple(str(v) for v in value)
        return str(value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"setting {name!r} from {origin}: {exc}") from None


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}_"))
        else:
            flat[name] = value
    return flat


def load_settings(
    home: str | Path | None = None,
    env: dict[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build the settings from defaults, the TOML file and ``MONITOR_*`` variables.

    ``home`` (the ``--home`` option) wins over ``MONITOR_HOME``; ``overrides`` win over all.
    Unknown keys in the TOML file or environment are an error, so a typo does not silently
    leave a default in place.
    """
    env = dict(os.environ if env is None else env)
    hints = get_type_hints(Settings)
    known = {f.name for f in fields(Settings)}
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}

    if home is not None:
        env["MONITOR_HOME"] = str(home)
    home_path = Path(os.path.expanduser(env.get("MONITOR_HOME", str(Settings.home))))

    config = env.get("MONITOR_CONFIG")
    config_path = Path(config) if config else home_path / "monitor.toml"
    if config and not config_path.exists():
        raise SettingsError(f"MONITOR_CONFIG points to {config_path}, which does not exist")
    if config_path.exists():
        try:
            table = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{config_path}: not valid TOML: {exc}") from None
        for name, value in _flatten(table).items():
            if name not in known:
                raise SettingsError(f"{config_path}: unknown setting {name!r}")
            values[name] = _coerce(name, hints[name], value, str(config_path))
            origins[name] = str(config_path)

    for key, value in env.items():
        if not key.startswith("MONITOR_") or key == "MONITOR_CONFIG":
            continue
        name = key[len("MONITOR_") :].lower()
        if name not in known:
            continue  # other tools may use MONITOR_* too; only known names are read
        values[name] = _coerce(name, hints[name], value, f"${key}")
        origins[name] = f"${key}"

    values["home"] = home_path if "home" not in overrides else Path(overrides.pop("home"))
    for name, value in overrides.items():
        if name not in known:
            raise SettingsError(f"unknown setting {name!r}")
        values[name] = value
        origins[name] = "the caller"
    settings = Settings(**values)
    validate(settings, origins)
    return settings


_EMAIL = re.compile(r"[^@\s<>,;:\"]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
_CRON_FIELDS = 5


def _is_email(text: str, display_name: bool = False) -> bool:
    """A bare address (``a@x.org``); with ``display_name`` also ``Name <a@x.org>``."""
    if display_name and text.rstrip().endswith(">"):
        from email.utils import parseaddr

        text = parseaddr(text)[1]
    return bool(_EMAIL.fullmatch(text)) and ".." not in text.partition("@")[2]


def _problems(s: Settings) -> list[tuple[str, str]]:
    """(setting, what is allowed) for every value that is out of range; empty when all fit.

    Checked once at load so that a bad value fails ``monitor config`` and every command up
    front with its name and source, instead of as a traceback deep inside a later run.
    """
    out: list[tuple[str, str]] = []

    def need(ok: bool, name: str, allowed: str) -> None:
        if not ok:
            out.append((name, allowed))

    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(s.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        out.append(("timezone", "an IANA time zone name such as UTC, Europe/Berlin, "
                                "Asia/Tokyo"))
    need(0 <= s.digest_hour <= 23, "digest_hour", "an hour from 0 to 23")
    need(0 < s.blind_failure_share <= 1, "blind_failure_share",
         "a share above 0 and at most 1 (1.0: a run is blind only when every source failed)")
    for name in ("smtp_port", "airflow_port"):
        need(1 <= getattr(s, name) <= 65535, name, "a TCP port from 1 to 65535")
    for name in ("connect_timeout", "read_timeout", "total_timeout", "run_deadline_seconds",
                 "smtp_timeout"):
        need(getattr(s, name) > 0, name, "a number of seconds above 0")
    for name in ("writer_lock_timeout", "reader_lock_timeout", "max_retry_after",
                 "backoff_base", "gdelt_interval"):
        need(getattr(s, name) >= 0, name, "a number of seconds, 0 or more")
    for name in ("max_body_bytes", "max_page_bytes", "concurrency", "per_host_concurrency",
                 "failure_backoff_minutes", "failure_backoff_max_hours",
                 "staging_retention_days"):
        need(getattr(s, name) >= 1, name, "a whole number, 1 or more")
    for name in ("max_redirects", "retries", "ingest_workers"):
        need(getattr(s, name) >= 0, name, "a whole number, 0 or more")
    need(1 <= s.ingest_every_minutes <= 1440, "ingest_every_minutes",
         "minutes from 1 to 1440 (one day)")
    for name in ("retrain_cron", "maintenance_cron"):
        need(len(getattr(s, name).split()) == _CRON_FIELDS, name,
             "a cron expression of 5 fields, e.g. '30 2 * * *'")
    for name in ("contact_url", "gdelt_api_url"):
        need(getattr(s, name).startswith(("http://", "https://")), name,
             "an http(s) URL")
    need(bool(s.user_agent.strip()), "user_agent", "a non-empty product name")
    need(bool(s.airflow_host.strip()), "airflow_host", "a host name or address")
    for name in ("mail_from", "ops_email"):
        need(_is_email(getattr(s, name), display_name=True), name,
             "an e-mail address like name@example.org or 'Name <name@example.org>'")
    for entry in s.recipients:
        addr, _, topics = entry.partition(":")
        need(_is_email(addr.strip()), "recipients",
             f"e-mail addresses ('a@x.org' or 'a@x.org:kurils,energy'); {entry!r} is not one")
        unknown = [t.strip() for t in topics.split(",") if t.strip() not in TOPIC_IDS
                   and t.strip()]
        need(not unknown, "recipients",
             f"known topic ids after ':' ({', '.join(TOPIC_IDS)}); "
             f"{entry!r} has {', '.join(unknown)}")
    return out


def validate(settings: Settings, origins: dict[str, str] | None = None) -> None:
    """Raise one :class:`SettingsError` naming every bad setting, its value and source."""
    problems = _problems(settings)
    if not problems:
        return
    origins = origins or {}
    lines = []
    for name, allowed in problems:
        value = getattr(settings, name)
        shown = ";".join(value) if isinstance(value, tuple) else value
        lines.append(f"setting {name!r} = {shown!r} (from {origins.get(name, 'the default')}):"
                     f" expected {allowed}")
    raise SettingsError("\n".join(lines))


def warnings(settings: Settings) -> list[str]:
    """Valid but worth changing: what ``monitor config`` prints under the table."""
    out = []
    if settings.contact_url == DEFAULT_CONTACT_URL:
        out.append(f"warning: contact_url is the shipped placeholder ({DEFAULT_CONTACT_URL}); "
                   "set your own (MONITOR_CONTACT_URL or contact_url in monitor.toml) so the "
                   "sites you poll can reach you: it is sent in every request's User-Agent")
    return out


def describe(settings: Settings) -> list[tuple[str, str]]:
    """Name/value pairs for ``monitor config``; secrets are masked."""
    rows = []
    for f in fields(settings):
        value = getattr(settings, f.name)
        if "password" in f.name and value:
            value = "********"
        rows.append((f.name, str(value)))
    return rows

