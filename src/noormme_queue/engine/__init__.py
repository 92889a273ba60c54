"""Tier 2's runtime: the worker (claim loop and slots), the execution of one attempt, the
outcome it leads to, handler binding, and the maintenance services (leases, rescue, cleanup).

It speaks to the store only through the :class:`~noormme_queue.store.JobStore` protocol.
"""
