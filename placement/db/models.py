"""SQLAlchemy models of the Placement schema.

Table, column, constraint and index names are upstream's (head revision
a082b8bb98d0), so an operator can point this service at an existing
Placement database.
"""

from oslo_db.sqlalchemy import models
import sqlalchemy as sa
from sqlalchemy import orm


class _Base(models.ModelBase, models.TimestampMixin):
    pass


BASE = orm.declarative_base(cls=_Base)


class ResourceClass(BASE):
    __tablename__ = 'resource_classes'
    __table_args__ = (
        sa.UniqueConstraint('name', name='uniq_resource_classes0name'),
    )
    # Standard classes keep their os-resource-classes list position as id,
    # so ids are always assigned explicitly (id 0 is VCPU).
    id = sa.Column(sa.Integer, primary_key=True, autoincrement=False)
    name = sa.Column(sa.String(255), nullable=False)


class ResourceProvider(BASE):
    __tablename__ = 'resource_providers'
    __table_args__ = (
        sa.Index('resource_providers_root_provider_id_idx',
                 'root_provider_id'),
        sa.Index('resource_providers_parent_provider_id_idx',
                 'parent_provider_id'),
        sa.UniqueConstraint('uuid', name='uniq_resource_providers0uuid'),
        sa.UniqueConstraint('name', name='uniq_resource_providers0name'),
    )
    id = sa.Column(sa.Integer, primary_key=True, nullable=False)
    uuid = sa.Column(sa.String(36), nullable=False)
    name = sa.Column(sa.Unicode(200), nullable=True)
    generation = sa.Column(sa.Integer, default=0)
    root_provider_id = sa.Column(
        sa.Integer, sa.ForeignKey('resource_providers.id'), nullable=True)
    parent_provider_id = sa.Column(
        sa.Integer, sa.ForeignKey('resource_providers.id'), nullable=True)


class Inventory(BASE):
    __tablename__ = 'inventories'
    __table_args__ = (
        sa.Index('inventories_resource_class_id_idx', 'resource_class_id'),
        sa.UniqueConstraint(
            'resource_provider_id', 'resource_class_id',
            name='uniq_inventories0resource_provider_resource_class'),
    )
    id = sa.Column(sa.Integer, primary_key=True, nullable=False)
    resource_provider_id = sa.Column(sa.Integer, nullable=False)
    resource_class_id = sa.Column(sa.Integer, nullable=False)
    total = sa.Column(sa.Integer, nullable=False)
    reserved = sa.Column(sa.Integer, nullable=False)
    min_unit = sa.Column(sa.Integer, nullable=False)
    max_unit = sa.Column(sa.Integer, nullable=False)
    step_size = sa.Column(sa.Integer, nullable=False)
    allocation_ratio = sa.Column(sa.Float, nullable=False)


class Allocation(BASE):
    __tablename__ = 'allocations'
    __table_args__ = (
        sa.Index('allocations_resource_provider_class_used_idx',
                 'resource_provider_id', 'resource_class_id', 'used'),
        sa.Index('allocations_resource_class_id_idx', 'resource_class_id'),
        sa.Index('allocations_consumer_id_idx', 'consumer_id'),
    )
    id = sa.Column(sa.Integer, primary_key=True, nullable=False)
    resource_provider_id = sa.Column(sa.Integer, nullable=False)
    # The consumer's uuid, not consumers.id.
    consumer_id = sa.Column(sa.String(36), nullable=False)
    resource_class_id = sa.Column(sa.Integer, nullable=False)
    used = sa.Column(sa.Integer, nullable=False)


class ResourceProviderAggregate(BASE):
    __tablename__ = 'resource_provider_aggregates'
    __table_args__ = (
        sa.Index('resource_provider_aggregates_aggregate_id_idx',
                 'aggregate_id'),
    )
    resource_provider_id = sa.Column(sa.Integer, primary_key=True,
                                     nullable=False)
    aggregate_id = sa.Column(sa.Integer, primary_key=True, nullable=False)


class PlacementAggregate(BASE):
    __tablename__ = 'placement_aggregates'
    __table_args__ = (
        sa.UniqueConstraint('uuid', name='uniq_placement_aggregates0uuid'),
    )
    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    uuid = sa.Column(sa.String(36), index=False)


class Trait(BASE):
    __tablename__ = 'traits'
    __table_args__ = (
        sa.UniqueConstraint('name', name='uniq_traits0name'),
    )
    id = sa.Column(sa.Integer, primary_key=True, nullable=False,
                   autoincrement=True)
    name = sa.Column(sa.Unicode(255), nullable=False)


class ResourceProviderTrait(BASE):
    __tablename__ = 'resource_provider_traits'
    __table_args__ = (
        sa.Index('resource_provider_traits_resource_provider_trait_idx',
                 'resource_provider_id', 'trait_id'),
    )
    trait_id = sa.Column(sa.Integer, sa.ForeignKey('traits.id'),
                         primary_key=True, nullable=False)
    resource_provider_id = sa.Column(sa.Integer,
                                     sa.ForeignKey('resource_providers.id'),
                                     primary_key=True, nullable=False)


class Project(BASE):
    __tablename__ = 'projects'
    __table_args__ = (
        sa.UniqueConstraint('external_id', name='uniq_projects0external_id'),
    )
    id = sa.Column(sa.Integer, primary_key=True, nullable=False,
                   autoincrement=True)
    external_id = sa.Column(sa.String(255), nullable=False)


class User(BASE):
    __tablename__ = 'users'
    __table_args__ = (
        sa.UniqueConstraint('external_id', name='uniq_users0external_id'),
    )
    id = sa.Column(sa.Integer, primary_key=True, nullable=False,
                   autoincrement=True)
    external_id = sa.Column(sa.String(255), nullable=False)


class ConsumerType(BASE):
    __tablename__ = 'consumer_types'
    __table_args__ = (
        sa.UniqueConstraint('name', name='uniq_consumer_types0name'),
    )
    id = sa.Column(sa.Integer, primary_key=True, nullable=False,
                   autoincrement=True)
    name = sa.Column(sa.Unicode(255), nullable=False)


class Consumer(BASE):
    __tablename__ = 'consumers'
    __table_args__ = (
        sa.Index('consumers_project_id_uuid_idx', 'project_id', 'uuid'),
        sa.Index('consumers_project_id_user_id_uuid_idx', 'project_id',
                 'user_id', 'uuid'),
        sa.Index('consumers_consumer_type_id_idx', 'consumer_type_id'),
        sa.UniqueConstraint('uuid', name='uniq_consumers0uuid'),
    )
    id = sa.Column(sa.Integer, primary_key=True, nullable=False,
                   autoincrement=True)
    uuid = sa.Column(sa.String(36), nullable=False)
    project_id = sa.Column(sa.Integer, nullable=False)
    user_id = sa.Column(sa.Integer, nullable=False)
    generation = sa.Column(sa.Integer, nullable=False, server_default='0',
                           default=0)
    consumer_type_id = sa.Column(
        sa.Integer,
        sa.ForeignKey('consumer_types.id',
                      name='consumers_consumer_type_id_fkey'),
        nullable=True)


# Plain Table objects for Core (non-ORM) statements on hot paths.
RP = ResourceProvider.__table__
INV = Inventory.__table__
ALLOC = Allocation.__table__
RC = ResourceClass.__table__
TRAIT = Trait.__table__
RP_TRAIT = ResourceProviderTrait.__table__
AGG = PlacementAggregate.__table__
RP_AGG = ResourceProviderAggregate.__table__
PROJECT = Project.__table__
USER = User.__table__
CONSUMER = Consumer.__table__
CONSUMER_TYPE = ConsumerType.__table__
