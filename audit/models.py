"""Who looked at or exported what. Changes are in django-simple-history's tables; this records reads."""

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models


class AccessAction(models.TextChoices):
    VIEW = "view", "Viewed"
    LIST = "list", "Listed"
    EXPORT = "export", "Exported"
    ERASE = "erase", "Erased contact details"
    SETTING = "setting", "Changed a security setting"
    REQUEUE = "requeue", "Requeued a failed email"


class AccessLog(models.Model):
    """One read of patient data (a page, an API response, an export). Written once, never changed.

    `path` is stored redacted (no questionnaire or unsubscribe token can be in it) and without the query string's
    search terms beyond 300 characters. `username` is kept so the row still says who after a user is deleted.
    """

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=8, choices=AccessAction.choices)
    content_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    object_id = models.CharField(max_length=64, blank=True)
    registry_number = models.CharField(max_length=16, blank=True, db_index=True)
    clinic = models.ForeignKey("registry.Clinic", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    method = models.CharField(max_length=8, blank=True)
    path = models.CharField(max_length=300, blank=True)
    route = models.CharField(max_length=100, blank=True, help_text="URL name, e.g. registry:patient-detail.")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    detail = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(action__in=AccessAction.values), name="accesslog_action_valid"),
        ]
        indexes = [models.Index(fields=["clinic", "at"])]

    def __str__(self) -> str:
        return f"{self.username or 'unknown'} {self.get_action_display().lower()} {self.registry_number or self.path}"
