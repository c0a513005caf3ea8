"""Helpers for our middleware, written as plain WSGI callables: a webob
``wsgify`` layer builds a Request and a Response for every request that
passes it, which for a small request costs more than its handler."""


def body(app_iter):
    """The response body ``app_iter`` as a list, read while the caller's
    ``try`` can still see an error the iterable raises (our handlers
    answer with lists: those pass as they are)."""
    if isinstance(app_iter, list):
        return app_iter
    try:
        return list(app_iter)
    finally:
        close = getattr(app_iter, 'close', None)
        if close is not None:
            close()


def header_value(headers, name):
    """The value of header ``name`` (any case) in a WSGI header list, or
    None."""
    name = name.lower()
    for key, value in headers:
        if key.lower() == name:
            return value
    return None
