"""Claims become leases: a worker renews its batch's lease while it runs, instead of a fixed 15-minute timeout."""

import datetime as dt

from django.db import migrations, models
from django.db.models import F


def lease_rows_being_sent(apps, schema_editor):
    # Rows claimed under the old rule keep the 15 minutes they were promised, then the sweep takes them again.
    OutboundMessage = apps.get_model("notifications", "OutboundMessage")
    being_sent = OutboundMessage.objects.filter(status="sending")
    being_sent.filter(claimed_at__isnull=False).update(lease_expires_at=F("claimed_at") + dt.timedelta(minutes=15))
    being_sent.filter(claimed_at__isnull=True).update(lease_expires_at=models.functions.Now())


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0003_email_message_id"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="outboundmessage",
            name="message_sending_stale",
        ),
        migrations.AddField(
            model_name="outboundmessage",
            name="handed_over_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="outboundmessage",
            name="lease_expires_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="outboundmessage",
            index=models.Index(
                condition=models.Q(("status", "sending")), fields=["lease_expires_at"], name="message_sending_lease"
            ),
        ),
        migrations.RunPython(lease_rows_being_sent, migrations.RunPython.noop),
    ]
