"""Russia–Asia news monitor: feeds → classifier → DuckDB → trends, digest and Airflow UI.

The library is laid out as the data flows: ``ingest`` (plan → fetch → parse → keys → derive →
stage ══► store, one module per stage), ``enrich`` (pages, extract, language, netsafe),
``classify``, ``stories`` (clusters), then ``trends``, ``digest`` and ``ui`` reading what was
stored, plus the ``warehouse`` they write to and the ``settings`` they share.
"""

__version__ = "0.1.0"
