#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    from config.checks import refuse_unsafe_production
    from config.embedded import prepare

    # `check --deploy` is where the production guards are listed, every one with its id;
    # any other command refuses to run while one fails (config/checks.py).
    if sys.argv[1:2] != ["check"] or "--deploy" not in sys.argv:
        refuse_unsafe_production()
    # The data folder, the embedded mode's key and SQLite file: made here, not at settings import.
    prepare()
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
