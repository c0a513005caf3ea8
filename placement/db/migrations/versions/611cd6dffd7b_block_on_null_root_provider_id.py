"""Block on null root_provider_id.

Refuses to continue while any provider lacks root_provider_id: run
``placement-manage db online_data_migrations`` first.

Revision ID: 611cd6dffd7b
Revises: b4ed3a175331
"""
from alembic import op
import sqlalchemy as sa

revision = '611cd6dffd7b'
down_revision = 'b4ed3a175331'
branch_labels = None
depends_on = None


def upgrade():
    conn = op.get_bind()
    missing = conn.execute(sa.text(
        'SELECT COUNT(*) FROM resource_providers '
        'WHERE root_provider_id IS NULL')).scalar()
    if missing:
        raise Exception(
            'There are %d resource providers with a NULL root_provider_id. '
            'Run "placement-manage db online_data_migrations" before '
            'upgrading.' % missing)
