"""Outcome analysis in the database: the dashboard's and the summary API's numbers.

- ``cohort``: the scoped plans with their joins; ``filters``: the one filter set; ``expressions``: the outcome
  rules as ORM expressions; ``stats``: means and CIs from sums; ``summary``: the two aggregate queries and what
  is built from them; ``tables``: the same numbers as tables for the page and the CSV files (with small-group
  suppression); ``trajectory``: one patient's scores over time; ``cache``/``receivers``: brief caching.
"""
