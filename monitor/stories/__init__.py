"""Stories: articles grouped into the events they report (``clusters``)."""
