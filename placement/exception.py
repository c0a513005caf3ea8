"""Domain exceptions raised by objects and translated to HTTP errors by
handlers. Resource-specific exceptions live in their objects module."""

import contextlib

from oslo_db import exception as db_exc
from sqlalchemy import exc as sa_exc


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


class TransactionMustRestart(ConcurrentUpdateDetected):
    """What a transaction read moved under it while it waited for a lock,
    and going on would take locks out of order: db.api.retry_on_deadlock
    runs it again; after the last retry it is a 409 like any race."""


class ResourceProviderNotFound(NotFound):
    msg_fmt = 'No such resource provider(s)'


class ResourceClassNotFound(NotFound):
    msg_fmt = 'No such resource class %(name)s.'


class TraitNotFound(NotFound):
    msg_fmt = 'No such trait(s): %(names)s.'


@contextlib.contextmanager
def db_races_as_conflict():
    """Turn the database errors two racing writers can cause (deadlock,
    lock wait timeout, duplicate key on a row the other writer just added,
    SQLite's busy lock) into ConcurrentUpdateDetected, a 409 for clients,
    never a 500. Wrap it around the *outermost* transaction: commit-time
    errors surface when that transaction ends. Usable as a decorator."""
    try:
        yield
    except (db_exc.DBDeadlock, db_exc.DBDuplicateEntry) as exc:
        raise ConcurrentUpdateDetected() from exc
    except (db_exc.DBError, sa_exc.OperationalError) as exc:
        if 'database is locked' not in str(exc):
            raise
        raise ConcurrentUpdateDetected() from exc
