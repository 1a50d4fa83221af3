from django.db import migrations


def load(apps, schema_editor):
    from contactpoint.index.reference import apply_local_authorities

    apply_local_authorities(apps.get_model("index", "LocalAuthority"), apps.get_model("index", "PostcodeDistrict"))


class Migration(migrations.Migration):
    dependencies = [("index", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
