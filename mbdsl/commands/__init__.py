"""One module per ``mbdsl`` subcommand; each defines ``register(subparsers)``.

``COMMANDS`` is the order in which they appear in ``mbdsl --help``.
"""

COMMANDS = ("check", "run", "eval", "gen", "sim", "impl", "fold", "report", "gap8-plan", "gap8-run", "csim", "import")
