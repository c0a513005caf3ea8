"""Block on allocations without a consumer record.

Revision ID: b5c396305c25
Revises: 611cd6dffd7b
"""
from alembic import op
import sqlalchemy as sa

revision = 'b5c396305c25'
down_revision = '611cd6dffd7b'
branch_labels = None
depends_on = None


def upgrade():
    conn = op.get_bind()
    missing = conn.execute(sa.text(
        'SELECT COUNT(*) FROM allocations a LEFT OUTER JOIN consumers c '
        'ON a.consumer_id = c.uuid WHERE c.id IS NULL')).scalar()
    if missing:
        raise Exception(
            'There are %d allocations without a consumer record. Run '
            '"placement-manage db online_data_migrations" before '
            'upgrading.' % missing)
