"""Reporting from a results JSON: the tables (terminal and report.md), the verdict, the
plots and the HTML report, ``zbench compare`` and ``zbench baseline``. Reads results; never
runs a case. Imports ``zbench.run`` (the results schema) and everything below it.
"""
