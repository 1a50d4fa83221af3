from django.db import migrations


def create(apps, schema_editor):
    from contactpoint.access.organisations import create_missing_organisations

    create_missing_organisations(
        apps.get_model("access", "Organisation"), apps.get_model("index", "LocalAuthority")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("access", "0001_initial"),
        ("index", "0002_load_local_authorities"),
    ]

    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
