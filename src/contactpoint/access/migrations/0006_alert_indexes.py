"""Alerts: three indexes fewer for every alert raised (each is written in the lookup's COMMIT).

dedupe_key's uniqueness becomes a constraint, without the LIKE-pattern index unique=True builds
on PostgreSQL; organisation and subject_user lose their own indexes, which alert_queue and
alert_subject (leading with them) already serve.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('access', '0005_rolling_child_quota'),
    ]

    operations = [
        # The new constraint before the old one goes: dedupe_key is never without one.
        migrations.AddConstraint(
            model_name='alert',
            constraint=models.UniqueConstraint(fields=('dedupe_key',), name='alert_dedupe_key_unique'),
        ),
        migrations.AlterField(
            model_name='alert',
            name='dedupe_key',
            field=models.CharField(max_length=160),
        ),
        migrations.AlterField(
            model_name='alert',
            name='organisation',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='alerts', to='access.organisation'),
        ),
        migrations.AlterField(
            model_name='alert',
            name='subject_user',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='alerts_about', to=settings.AUTH_USER_MODEL),
        ),
    ]
