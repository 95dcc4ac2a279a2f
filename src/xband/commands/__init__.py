"""Subcommands of the ``xband`` CLI beyond demo/run/scenario, one module each.

A module here defines ``NAME`` (the subcommand), ``HELP`` (one line), ``ORDER`` (int, its
place in ``xband --help``), ``add_arguments(parser)`` and ``run(args) -> int`` (the exit
status). It must import heavy dependencies inside ``run`` so that ``xband --help`` stays
fast. Raise ``XbandError`` subclasses for user errors: the CLI prints them as one line
``xband: error: …`` and exits with status 2. ``xband.cli.print_json`` prints a JSON
summary (non-finite floats become null).
"""
