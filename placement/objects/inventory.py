"""Inventories of resource providers, and the capacity arithmetic every
other module (allocations, provider filters, candidates) shares."""

import math

import sqlalchemy as sa

from placement.db import models

INV = models.INV
ALLOC = models.ALLOC


def capacity(total, reserved, allocation_ratio):
    """Usable amount: floor((total - reserved) * allocation_ratio)."""
    return int(math.floor((total - reserved) * allocation_ratio))


def capacity_expr(inv=INV):
    """SQL for the (unfloored) capacity of inventory rows of ``inv``.
    Compare ``used + amount <= capacity_expr()``; integer usage makes the
    floor irrelevant in such comparisons."""
    return (inv.c.total - inv.c.reserved) * inv.c.allocation_ratio


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
