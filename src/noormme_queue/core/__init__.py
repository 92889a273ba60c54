"""The bottom layer: plain data and pure functions (jobs, options, config, errors, retry
rules, the clock, handler signals) plus the one way to run sync code off the event loop.

Nothing here does I/O or imports another layer of the package.
"""
