"""Classifier commands: ``classify``, ``evaluate``, ``label``, ``train``, ``reclassify``."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

import click

from monitor.cli.app import cli, emit_rows, fail, known_ids, pass_settings
from monitor.settings import Settings

#: Lines classified per batch when reading stdin; output is flushed after each batch, so a
#: long stream shows progress and memory stays flat.
BATCH = 256
#: A line longer than this is cut before JSON parsing would be attempted on it whole.
MAX_LINE_BYTES = 20 * 1024 * 1024


@cli.command()
@click.option("--input", "input_file", type=click.File("rb"), default="-",
              help="JSON Lines file to read (default: standard input).")
@pass_settings
def classify(settings: Settings, input_file) -> None:
    """Classify JSON Lines articles: one {"id","title","text"} per line in, one result out.

    Output fields: id, relevant, dyads, topics, scores, evidence, model_version. A line that
    is not a JSON object is reported on stderr with its line number and skipped; the others
    are still classified. Duplicate ids are classified again and reported on stderr.

    Exit code 1 when there were lines but every one was skipped (nothing classified).
    """
    from monitor.classify import load_classifier

    clf = load_classifier(settings)
    out = sys.stdout
    seen: set[str] = set()
    batch: list[dict] = []
    problems = 0
    classified = 0

    def flush() -> None:
        for pred in clf.classify(batch):
            out.write(json.dumps(pred.to_json(), ensure_ascii=False) + "\n")
        out.flush()
        batch.clear()

    for lineno, raw in enumerate(input_file, 1):
        if not raw.strip():
            continue
        if len(raw) > MAX_LINE_BYTES:
            raw = raw[:MAX_LINE_BYTES]
        line = raw.decode("utf-8", errors="replace")
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            problems += 1
            click.echo(f"line {lineno}: not valid JSON ({exc.msg}); skipped", err=True)
            continue
        if not isinstance(item, dict):
            problems += 1
            click.echo(f"line {lineno}: expected a JSON object; skipped", err=True)
            continue
        if "id" not in item:
            click.echo(f"line {lineno}: no id; classified with id null", err=True)
        key = json.dumps(item.get("id"), sort_keys=True)
        if key in seen:
            click.echo(f"line {lineno}: duplicate id {item.get('id')!r}; classified again",
                       err=True)
        seen.add(key)
        batch.append(item)
        classified += 1
        if len(batch) >= BATCH:
            flush()
    flush()
    if problems and not classified:
        fail(f"nothing classified: all {problems} input line(s) were skipped (see the "
             "messages above; each line must be a JSON object like "
             '{"id": 1, "title": "...", "text": "..."})')
    if problems:
        click.echo(f"{classified} line(s) classified, {problems} skipped", err=True)


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--confusions", default=15, show_default=True,
              help="How many misclassified items to list.")
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON.")
@pass_settings
def evaluate(settings: Settings, file: Path, confusions: int, as_json: bool) -> None:
    """Score the current model on a gold JSONL file.

    Gold lines: {"id","title","text","relevant","dyads","topics"}. Prints precision, recall
    and F1 for relevance, each dyad and topic, micro and macro averages, and the confusions.
    Warns when items of the file were in the model's training data (the seed articles, and
    for a retrained model the human labels it was fitted on): such scores flatter the model.
    """
    from monitor.classify import load_classifier
    from monitor.classify.evaluate import read_gold, score, summary_line
    from monitor.classify.overlap import training_overlap

    gold, problems = read_gold(file)
    for p in problems:
        click.echo(p, err=True)
    if not gold:
        fail(f"{file}: no usable gold lines")
    clf = load_classifier(settings)
    preds = [p.to_json() for p in clf.classify(gold)]
    report = score(gold, preds)
    overlap = training_overlap(settings, clf, gold)
    if overlap:
        seen = max(overlap.values())
        click.echo(f"warning: {seen} of {report.n} items in {file} were in model "
                   f"{clf.version}'s training data ("
                   + ", ".join(f"{n} {where}" for where, n in overlap.items())
                   + "); these scores overstate how it does on new articles. Evaluate on "
                   "labels it was not trained on.", err=True)
    if as_json:
        click.echo(json.dumps({"model_version": clf.version, "n": report.n,
                               "training_overlap": overlap, **report.headline()}, indent=2))
        return
    click.echo(f"model {clf.version} on {report.n} items from {file}")
    emit_rows(["label", "tp", "fp", "fn", "precision", "recall", "f1"], report.table(), "table")
    click.echo(summary_line(report))
    if report.confusions and confusions:
        click.echo("\nconfusions worth reading:")
        for c in report.confusions[:confusions]:
            click.echo(f"  {c['id']}: {', '.join(c['wrong'])}  "
                       f"(gold {c['gold'] or '-'}; predicted {c['predicted'] or '-'}) "
                       f"{c['title']}")


@cli.command()
@click.argument("article_id")
@click.option("--relevant", type=click.Choice(["yes", "no"]), required=True)
@click.option("--topics", default="", help="Comma-separated topic ids, e.g. kurils,military.")
@click.option("--dyads", default="", help="Comma-separated: russia_japan,russia_china.")
@click.option("--who", default=None, help="Who judged (default: $USER).")
@click.option("--note", default=None, help="Why, for borderline calls.")
@pass_settings
def label(settings: Settings, article_id: str, relevant: str, topics: str, dyads: str,
          who: str | None, note: str | None) -> None:
    """Store a human judgement of one article in the warehouse (labels table)."""
    import getpass

    from monitor import warehouse
    from monitor.classify.store import add_label
    from monitor.classify.topics import DYAD_IDS, TOPIC_IDS

    topic_ids = list(known_ids("--topics", topics, TOPIC_IDS))
    dyad_ids = list(known_ids("--dyads", dyads, DYAD_IDS, noun="dyad"))
    who = who or getpass.getuser()
    with warehouse.writer(settings) as con:
        exists = con.execute("SELECT count(*) FROM articles WHERE article_id = ?",
                             [article_id]).fetchone()[0]
        if not exists:
            fail(f"no article {article_id!r} in the warehouse")
        try:
            con.execute("BEGIN")
            label_id = add_label(con, article_id, relevant == "yes", dyad_ids, topic_ids, who,
                                 note)
            con.execute("COMMIT")
        except ValueError as exc:
            con.execute("ROLLBACK")
            fail(str(exc))
    click.echo(f"label {label_id} stored for {article_id} by {who}")


@cli.command()
@pass_settings
def train(settings: Settings) -> None:
    """Fit a new model (seed + weak + human labels), compare it with the current one and
    promote it if it scores no worse."""
    from monitor.classify import retrain

    result = retrain(settings)
    rows = [(k, result["current_scores"][k], result["candidate_scores"][k])
            for k in result["candidate_scores"]]
    click.echo(f"judged on {result['n_judged']} {result['judged_on']}; training data "
               f"{result['training']}; blend {result['blend']}")
    emit_rows(["score", f"current {result['current']}", f"candidate {result['candidate']}"],
              rows, "table")
    click.echo(result["reason"])


@cli.command()
@click.option("--since", default=None, help="Only articles first seen on/after this date "
              "(YYYY-MM-DD).")
@pass_settings
def reclassify(settings: Settings, since: str | None) -> None:
    """Apply the promoted model to stored articles."""
    from monitor.classify import reclassify as run

    when = None
    if since:
        try:
            when = datetime.fromisoformat(since)
        except ValueError:
            fail(f"--since {since!r} is not a date (YYYY-MM-DD)")
    n = run(settings, since=when)
    click.echo(f"reclassified {n} article(s)")
