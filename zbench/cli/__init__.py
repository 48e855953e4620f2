"""The command line: thin click commands over the layers below (``zbench.cli.app:main``)."""
