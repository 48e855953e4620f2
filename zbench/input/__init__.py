"""Input: page dumps (formats, capture from processes zbench starts), the corpus a workload
draws pages from, and the content-keyed cache of compressed pages. Imports only
``zbench.api``.
"""
