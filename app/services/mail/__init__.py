"""Transactional email: SMTP transport, message templates, and the durable outbox.

Nothing here sends mail inline with a request: callers `enqueue` a message in their own
transaction, and the mail worker (started by the app's lifespan) delivers it with retries.
"""
