from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "registry"
    verbose_name = "Registry"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from registry import i18n  # noqa: F401  (registers the missing-translation check)
        from registry.roles import registry_roles_ensure

        post_migrate.connect(registry_roles_ensure, sender=self, dispatch_uid="registry.roles")
