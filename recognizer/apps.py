from django.apps import AppConfig


class RecognizerConfig(AppConfig):
    """The digit recognizer: web pages and API, recognition pipeline, Cassandra storage.

    Its layers live in sub-packages (``web``, ``recognition``, ``storage``); Django's
    conventional module names at the app's root hand over to them.
    """

    name = "recognizer"
    verbose_name = "Digit recognizer"

    def ready(self) -> None:
        # The admin registrations belong to the web layer, not to the app's root.
        from recognizer.web import admin  # noqa: F401
