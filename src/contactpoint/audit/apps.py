from django.apps import AppConfig
from django.db.backends.signals import connection_created


class AuditConfig(AppConfig):
    name = "contactpoint.audit"
    label = "audit"
    verbose_name = "Audit log"

    def ready(self) -> None:
        from contactpoint import prepared_sql

        # The audit append and the protective facts are prepared statements (prepared_sql).
        connection_created.connect(
            prepared_sql.configure_connection, dispatch_uid="contactpoint.prepared_sql"
        )
