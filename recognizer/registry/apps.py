from django.apps import AppConfig


class RegistryConfig(AppConfig):
    """The model registry: versions of the model on disk, their metrics and status.

    A relational app of its own, so that the Cassandra router (which sends only
    the ``recognizer`` app to Cassandra) leaves its table in SQLite.
    """

    name = "recognizer.registry"
    label = "registry"
    verbose_name = "Model registry"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from recognizer.registry import admin  # noqa: F401
