"""Simulation machinery on top of the API: anonymous pages, page migration and pageblock
evacuation, the migration experiments, size-only stand-ins for compressed pages, and the
invariants every case is checked against. Imports only ``zbench.api``.
"""
