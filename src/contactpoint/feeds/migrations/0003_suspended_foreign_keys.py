"""Where the initial load records the foreign keys it drops while it writes in bulk."""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("feeds", "0002_redundant_indexes"),
    ]

    operations = [
        migrations.CreateModel(
            name="SuspendedForeignKey",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("table", models.CharField(max_length=63)),
                ("name", models.CharField(max_length=63)),
                ("definition", models.TextField()),
                ("suspended_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("table", "name"), name="one_suspension_per_key")
                ],
            },
        ),
    ]
