"""Helpers shared by the test suite: the clock (clock.py), PROM answers (answers.py), patient journeys
(journeys.py) and the import-rule checker (imports.py). Import them by name; nothing is star-imported."""
