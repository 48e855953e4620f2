"""``python -m zbench`` is the ``zbench`` command."""

from zbench.cli.app import main

main()
