"""Domain exceptions raised by objects and translated to HTTP errors by
handlers. Resource-specific exceptions live in their objects module."""


class PlacementException(Exception):
    msg_fmt = 'An unknown exception occurred.'

    def __init__(self, message=None, **kwargs):
        self.kwargs = kwargs
        if message is None:
            message = self.msg_fmt % kwargs if kwargs else self.msg_fmt
        self.message = message
        super().__init__(message)

    def __str__(self):
        return self.message


class NotFound(PlacementException):
    msg_fmt = 'Resource could not be found.'


class Conflict(PlacementException):
    msg_fmt = 'Conflict.'


class ConcurrentUpdateDetected(PlacementException):
    msg_fmt = ('Another thread concurrently updated the data. '
               'Please retry your update')


class ResourceProviderConcurrentUpdateDetected(ConcurrentUpdateDetected):
    """A provider's generation changed under us (CAS update matched no
    row)."""
    msg_fmt = ('Another thread concurrently updated the resource provider '
               'data. Please retry your update')


class ResourceProviderNotFound(NotFound):
    msg_fmt = 'No such resource provider(s)'


class ResourceClassNotFound(NotFound):
    msg_fmt = 'No such resource class %(name)s.'


class TraitNotFound(NotFound):
    msg_fmt = 'No such trait(s): %(names)s.'
