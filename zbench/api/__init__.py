"""The plugin API: the base classes a plugin subclasses (allocator, front end, compressor,
workload, reporter), their options, the simulated page frames they store bytes in, the
errors they raise, the metric definitions, the hook specifications and the registry that
finds plugins through the ``zbench`` entry-point group.

The lowest layer: it imports nothing else of zbench. ``zbench/__init__.py`` re-exports the
names a plugin needs; a plugin imports from ``zbench`` only (docs/architecture.md).
"""
