"""Send prediction records to Cassandra and everything else to the relational database."""

CASSANDRA_ALIAS = "cassandra"


class CassandraRouter:
    def _is_cassandra(self, model) -> bool:
        return model._meta.app_label == "recognizer"

    def db_for_read(self, model, **hints):
        return CASSANDRA_ALIAS if self._is_cassandra(model) else "default"

    def db_for_write(self, model, **hints):
        return CASSANDRA_ALIAS if self._is_cassandra(model) else "default"

    def allow_relation(self, obj1, obj2, **hints):
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        if db == CASSANDRA_ALIAS:
            return app_label == "recognizer"
        return app_label != "recognizer"
