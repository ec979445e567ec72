from django.apps import AppConfig


class DemoConfig(AppConfig):
    """`make run`'s demo: seed_demo (showcase patients and a synthetic registry) and rundemo (worker + web).
    Above every other app, because demo data fills all their tables."""

    name = "demo"
    verbose_name = "Demo data"
