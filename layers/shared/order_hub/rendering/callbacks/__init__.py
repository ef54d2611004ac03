"""Outbound callback formats: what each endpoint format sends for an order event, and how its
receiver's answer is judged. Pure functions (no I/O): the delivery adapter does HTTP and auth.

- ``emits(format, event)``: does the format send anything for this event (cheap; used by the dispatcher)
- ``render(endpoint, event)``: the request body (and path suffix, dedupe key); raises ``MissingField``
- ``judge(format, status_code, body)``: delivered, retry, or failed for good
"""
