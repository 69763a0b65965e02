"""Russia–Asia news monitor: feeds → classifier → DuckDB → trends, digest and Airflow UI.

The library is a set of small modules, one per stage of the pipeline (``sources``, ``fetch``,
``feeds``, ``dedup``, ``extract``, ``classify``, ``store``) plus the ``warehouse`` they write
to and the ``settings`` they share. ``monitor.pipeline`` reads top to bottom through them.
"""

__version__ = "0.1.0"
