"""Create or update the admin user named by environment variables.

`make run` and the Docker start-up script call this on every start, so an
operator sets DJANGO_ADMIN_USER and DJANGO_ADMIN_PASSWORD once and can log in
to /admin/; without them it does nothing. Passwords never appear in arguments,
where `ps` would show them.
"""

import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Create (or update the password of) a superuser from DJANGO_ADMIN_USER, "
        "DJANGO_ADMIN_PASSWORD and optionally DJANGO_ADMIN_EMAIL. Does nothing "
        "when DJANGO_ADMIN_USER or DJANGO_ADMIN_PASSWORD is unset."
    )

    def handle(self, *args, **options):
        username = os.environ.get("DJANGO_ADMIN_USER", "").strip()
        password = os.environ.get("DJANGO_ADMIN_PASSWORD", "")
        if not username or not password:
            if options["verbosity"] >= 2:
                self.stdout.write("DJANGO_ADMIN_USER/PASSWORD not set: no admin user created.")
            return
        user, created = get_user_model().objects.get_or_create(
            username=username,
            defaults={"email": os.environ.get("DJANGO_ADMIN_EMAIL", "")},
        )
        user.is_staff = True
        user.is_superuser = True
        user.set_password(password)
        user.save()
        verb = "Created" if created else "Updated"
        self.stdout.write(self.style.SUCCESS(f"{verb} admin user {username!r}."))
