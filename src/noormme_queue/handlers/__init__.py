"""Job handlers: the handler protocol and the built-in email, image and webhook handlers."""
