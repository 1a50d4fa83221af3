#!/usr/bin/env python
"""Django's manage.py, kept for habit; `contactpoint` is the same thing installed on PATH."""

from contactpoint.cli import main

if __name__ == "__main__":
    main()
