"""Running a suite: parse it, expand the plan into cases, run each case in a watched worker
process (front end + allocator on simulated frames, every load verified), cache case
results, time store and load under pyperf, and write the versioned results JSON. Imports
``zbench.api``, ``zbench.sim`` and ``zbench.input``.
"""
