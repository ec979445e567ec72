"""Give existing plans the later follow-ups (12 and 24 months) their product now gets.

Plans scheduled before FOLLOW_UP_TIMEPOINTS_BY_PRODUCT named a timepoint do not have it. This adds each one whose
window has not yet closed (outcomes.services.follow_ups_add_later); nothing stored is changed or recreated. Safe to
run again, e.g. after changing the setting.
"""

from django.core.management.base import BaseCommand

from outcomes.services import follow_ups_add_later


class Command(BaseCommand):
    help = "Add the 12- and 24-month follow-ups existing plans should now have (windows not yet closed only)."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Report what would be added; add nothing.")

    def handle(self, *args, dry_run: bool = False, **options):
        added = follow_ups_add_later(dry_run=dry_run)
        by_timepoint: dict[str, int] = {}
        for follow_up in added:
            by_timepoint[follow_up.get_timepoint_display()] = by_timepoint.get(follow_up.get_timepoint_display(), 0) + 1
        detail = ", ".join(f"{label}: {count}" for label, count in sorted(by_timepoint.items())) or "none needed"
        verb = "Would add" if dry_run else "Added"
        self.stdout.write(f"{verb} {len(added)} follow-ups ({detail}).")
