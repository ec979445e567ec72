"""Pages of the notifications app, by subject (notifications/urls.py routes to each module)."""
