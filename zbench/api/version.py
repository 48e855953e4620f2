"""zbench's version (one place; ``zbench.__version__`` re-exports it)."""

__version__ = "0.1.0"
