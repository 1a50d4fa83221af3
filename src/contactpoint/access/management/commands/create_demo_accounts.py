"""`contactpoint create_demo_accounts`: print sign-in details for one demo account per role."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from contactpoint.access.demo import DemoRefused, create_demo_accounts


class Command(BaseCommand):
    help = (
        "Create (or refresh) one fully gated account per role in a live pilot local "
        "authority (Manchester where present; the national team account in the national "
        "team) and print each username, a new password and the TOTP secret to add to an "
        "authenticator app. Runs only when CONTACTPOINT_ENV=demo. Safe to re-run: the "
        "accounts and secrets stay the same and the passwords are reset to the ones printed."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            accounts = create_demo_accounts()
        except DemoRefused as error:
            raise CommandError(str(error)) from error
        self.stdout.write("Demo accounts (synthetic data only; sign in at /sign-in):")
        for account in accounts:
            self.stdout.write(
                f"\n  {account.role} ({account.organisation})\n"
                f"    username:    {account.username}\n"
                f"    password:    {account.password}\n"
                f"    TOTP secret: {account.totp_secret}\n"
                f"    TOTP URI:    {account.otpauth_uri}"
            )
        self.stdout.write(
            "\nAdd a secret to any authenticator app (or run `oathtool --totp -b SECRET`) to get codes."
        )
