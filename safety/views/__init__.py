"""Pages of the safety app, by subject (safety/urls.py routes to each module)."""
