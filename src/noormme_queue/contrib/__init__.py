"""Glue for web frameworks (faces layer): ``contrib.django`` for Django's Tasks framework."""
