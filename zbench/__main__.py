"""``python -m zbench`` is the ``zbench`` command."""

from zbench.cli import main

main()
