"""tracenode's benchmark suite: the DataMatrix readers, the per-unit latency split and the highest line rate.

Run with ``make bench`` (``python -m bench``); it prints tables, it asserts nothing.
"""
