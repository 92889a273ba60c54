"""Runnable examples of noormme-queue inside web frameworks (tested in tests/frameworks/)."""
