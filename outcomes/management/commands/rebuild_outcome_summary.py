"""Rebuild the dashboard's per-plan summary (outcomes.PlanOutcome).

Triggers keep it current on every write, so this is for after a restore into a database whose triggers were off,
or to check the summary: with --check it compares every row with the live join and fails if any differ.
"""

from django.core.management.base import BaseCommand, CommandError

from outcomes.analysis import plan_outcomes


class Command(BaseCommand):
    help = "Rebuild the per-plan outcome summary the dashboards read (or --check it against the live data)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--check", action="store_true", help="Change nothing: report plans whose row differs from the live data."
        )

    def handle(self, *args, check: bool = False, **options):
        if check:
            stale = plan_outcomes.differences()
            if stale:
                shown = ", ".join(str(pk) for pk in stale[:20])
                raise CommandError(f"{len(stale)} plan summaries differ from the live data (plans {shown}...).")
            self.stdout.write("Every plan summary matches the live data.")
            return
        rebuilt = plan_outcomes.rebuild_all()
        self.stdout.write(f"Rebuilt the outcome summary of {rebuilt} plans.")
