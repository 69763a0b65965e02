"""Settings are checked when they load: a bad value stops ``monitor config`` and every command
with the setting's name, the value, where it came from and what is allowed (issue 13, item 5).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor import trends
from monitor.classify.topics import TOPIC_IDS as CLASSIFIER_TOPICS
from monitor.cli import cli
from monitor.settings import DEFAULT_CONTACT_URL, TOPIC_IDS, SettingsError, load_settings

GOOD_CONTACT = {"MONITOR_CONTACT_URL": "https://ops.example.org/monitor"}


@pytest.mark.parametrize(("key", "value", "allowed"), [
    ("timezone", "Mars/Olympus_Mons", "IANA time zone"),
    ("digest_hour", "25", "hour from 0 to 23"),
    ("digest_hour", "-1", "hour from 0 to 23"),
    ("smtp_port", "0", "1 to 65535"),
    ("airflow_port", "70000", "1 to 65535"),
    ("recipients", "not-an-address", "e-mail addresses"),
    ("recipients", "a@example.org:kurils,bogus", "bogus"),
    ("mail_from", "monitor", "e-mail address"),
    ("read_timeout", "0", "above 0"),
    ("concurrency", "0", "1 or more"),
    ("retries", "-2", "0 or more"),
    ("ingest_every_minutes", "0", "1 to 1440"),
    ("retrain_cron", "every monday", "5 fields"),
    ("contact_url", "mailto:ops@example.org", "http(s) URL"),
], ids=["timezone", "hour-25", "hour-negative", "smtp-port-0", "airflow-port-big",
        "recipient-not-email", "recipient-topic", "mail-from", "timeout-0", "concurrency-0",
        "retries-negative", "ingest-every-0", "cron", "contact-url-scheme"])
def test_bad_environment_value_is_refused_with_name_value_origin(
        tmp_path: Path, key: str, value: str, allowed: str) -> None:
    var = f"MONITOR_{key.upper()}"
    with pytest.raises(SettingsError) as info:
        load_settings(home=tmp_path, env={var: value})
    message = str(info.value)
    assert f"'{key}'" in message and value.split(",")[-1] in message
    assert f"${var}" in message and allowed in message


def test_bad_file_value_names_the_file_and_all_problems(tmp_path: Path) -> None:
    toml = tmp_path / "monitor.toml"
    toml.write_text('timezone = "Europe/Atlantis"\ndigest_hour = 25\n[smtp]\nport = 99999\n',
                    encoding="utf-8")
    with pytest.raises(SettingsError) as info:
        load_settings(home=tmp_path, env={})
    lines = str(info.value).splitlines()
    assert len(lines) == 3
    assert all(str(toml) in line for line in lines)
    assert "'Europe/Atlantis'" in lines[0] and "25" in lines[1] and "99999" in lines[2]


def test_good_values_load(tmp_path: Path) -> None:
    s = load_settings(home=tmp_path, env={
        "MONITOR_TIMEZONE": "Asia/Tokyo", "MONITOR_DIGEST_HOUR": "0",
        "MONITOR_RECIPIENTS": "a@example.org;b@localhost:kurils,energy",
        "MONITOR_SMTP_PORT": "65535", "MONITOR_MAIL_FROM": "Monitor <monitor@example.org>"})
    assert s.timezone == "Asia/Tokyo" and s.digest_hour == 0 and len(s.recipients) == 2
    assert s.mail_from == "Monitor <monitor@example.org>"


def test_topic_ids_agree_with_the_classifier_and_trends() -> None:
    assert TOPIC_IDS == CLASSIFIER_TOPICS == tuple(trends.TOPICS)


def test_monitor_config_rejects_the_same(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--home", str(tmp_path), "config"],
                                env={"MONITOR_TIMEZONE": "Nowhere/Land", "MONITOR_CONFIG": None})
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "'timezone' = 'Nowhere/Land' (from $MONITOR_TIMEZONE)" in result.output


def test_monitor_config_warns_about_the_placeholder_contact_url(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--home", str(tmp_path), "config"],
                                env={"MONITOR_CONTACT_URL": None, "MONITOR_CONFIG": None})
    assert result.exit_code == 0, result.output
    assert "warning: contact_url is the shipped placeholder" in result.output
    assert DEFAULT_CONTACT_URL in result.output
    result = CliRunner().invoke(cli, ["--home", str(tmp_path), "config"],
                                env={**GOOD_CONTACT, "MONITOR_CONFIG": None})
    assert result.exit_code == 0 and "placeholder" not in result.output
