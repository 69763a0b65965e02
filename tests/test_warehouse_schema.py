"""The warehouse's schema: numbered migrations and view files, brought up to date at the
start of every writer session (one statement when nothing changed)."""

from __future__ import annotations

import shutil
from pathlib import Path

from monitor import warehouse
from monitor.settings import Settings


def _own_schema(settings: Settings, tmp_path: Path) -> Settings:
    """Settings whose migrations and views are a copy this test may change."""
    folder = tmp_path / "schema"
    shutil.copytree(settings.warehouse_dir, folder)
    return settings.with_(warehouse_dir=folder)


def test_new_migrations_and_changed_views_are_applied_by_the_next_writer(
        settings: Settings, tmp_path: Path) -> None:
    settings = _own_schema(settings, tmp_path)
    warehouse.ensure_initialised(settings)
    with warehouse.writer(settings) as con:
        assert warehouse.apply_migrations(con, settings) == []  # up to date: nothing to do

    (settings.migrations_dir / "9990_test_extra.sql").write_text(
        "CREATE TABLE test_extra (x INTEGER);")
    # Numbered below migrations already applied (it landed from another branch): applied too.
    (settings.migrations_dir / "0003_test_late.sql").write_text(
        "CREATE TABLE test_late (x INTEGER);")
    (settings.views_dir / "99_test_view.sql").write_text(
        "CREATE OR REPLACE VIEW test_view AS SELECT 42 AS answer;")
    with warehouse.writer(settings) as con:
        assert con.execute("SELECT count(*) FROM test_extra, test_late").fetchone() == (0,)
        assert con.execute("SELECT answer FROM test_view").fetchone() == (42,)

    # The same size, written at once: the view's text is compared, not its file's times.
    (settings.views_dir / "99_test_view.sql").write_text(
        "CREATE OR REPLACE VIEW test_view AS SELECT 43 AS answer;")
    with warehouse.writer(settings) as con:
        assert con.execute("SELECT answer FROM test_view").fetchone() == (43,)
        assert con.execute("SELECT max(version) FROM schema_migrations").fetchone() == (9990,)
