"""The "Trends" view inside the Airflow UI (an Airflow plugin served by the API server).

``plugin``  the ``AirflowPlugin`` (entry point ``monitor.ui.plugin:TrendsPlugin``): a FastAPI
            app at ``/trends`` plus a navigation entry; every request needs Airflow's login.
``page``    reads the warehouse's read snapshot through ``monitor.trends`` and renders HTML.
``charts``  small inline SVG charts, generated server-side (no JavaScript, works offline).
"""
