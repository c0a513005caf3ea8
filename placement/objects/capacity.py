"""Capacity arithmetic every reader and writer of inventories shares
(inventories, allocations, provider filters, candidates): the usable
amount of an inventory, its allocation ratio read as the client sent it,
and usage summed over allocations. A leaf module: it imports no other
objects module, so both inventory.py and resource_provider.py use it."""

import math

import sqlalchemy as sa
from sqlalchemy.ext import compiler as sa_compiler
from sqlalchemy.sql import functions as sa_functions

from placement.db import models

INV = models.INV
ALLOC = models.ALLOC


def capacity(total, reserved, allocation_ratio):
    """Usable amount: floor((total - reserved) * allocation_ratio)."""
    return int(math.floor((total - reserved) * allocation_ratio))


class _StoredRatio(sa_functions.FunctionElement):
    """An ``allocation_ratio`` column as the client sent it (see
    ratio_expr())."""
    type = sa.Float()
    name = 'stored_ratio'
    inherit_cache = True


@sa_compiler.compiles(_StoredRatio)
def _stored_ratio(element, compiler, **kw):
    return compiler.process(element.clauses, **kw)


@sa_compiler.compiles(_StoredRatio, 'mysql')
def _stored_ratio_mysql(element, compiler, **kw):
    return ratio_sql('mysql', compiler.process(element.clauses, **kw))


def ratio_sql(dialect_name, column):
    """ratio_expr() for raw SQL text: the SQL reading ``column`` (e.g.
    ``'i.allocation_ratio'``) as the client sent it on ``dialect_name``.
    MySQL's FLOAT is single precision: 0.9 is stored as 0.89999997...;
    round it (as a DOUBLE: "+ 0") to 7 significant digits, the nearest
    decimal single precision represents, so 0.9 reads as 0.9 and
    (total - reserved) * ratio is not a hair below an integer. SQLite
    and PostgreSQL store a double: the column as it is."""
    if dialect_name != 'mysql':
        return column
    return ('CASE WHEN {c} = 0 THEN {c} + 0 '
            'ELSE ROUND({c} + 0, 6 - FLOOR(LOG10(ABS({c})))) END'
            ).format(c=column)


def ratio_expr(inv=INV):
    """SQL reading ``inv.allocation_ratio`` as the client sent it on every
    backend (see ratio_sql()). Every reader of inventories selects the
    ratio through this (never the bare column): API output, and capacity
    arithmetic."""
    return _StoredRatio(inv.c.allocation_ratio)


def ratio_column(inv=INV):
    """ratio_expr() labelled ``allocation_ratio``, for select lists."""
    return ratio_expr(inv).label('allocation_ratio')


def columns(inv=INV):
    """Every column of ``inv`` for a select list, the ratio read through
    ratio_column()."""
    return [ratio_column(inv) if c.name == 'allocation_ratio' else c
            for c in inv.c]


def capacity_expr(inv=INV):
    """SQL for the (unfloored) capacity of inventory rows of ``inv``.
    Compare ``used + amount <= capacity_expr()``; integer usage makes the
    floor irrelevant in such comparisons."""
    return (inv.c.total - inv.c.reserved) * ratio_expr(inv)


def usage_subquery(name='usage'):
    """(resource_provider_id, resource_class_id, used) summed over all
    allocations; outer-join it to inventories and coalesce ``used``."""
    return sa.select(
        ALLOC.c.resource_provider_id,
        ALLOC.c.resource_class_id,
        sa.func.sum(ALLOC.c.used).label('used'),
    ).group_by(
        ALLOC.c.resource_provider_id, ALLOC.c.resource_class_id,
    ).subquery(name)
