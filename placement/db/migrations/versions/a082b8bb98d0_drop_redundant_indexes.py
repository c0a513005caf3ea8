"""Drop redundant indexes.

The index set created by this project's earlier revisions is already the
final one, so there is nothing to drop here; the revision exists so that a
database migrated by another Placement implementation and ours agree on
the head revision id.

Revision ID: a082b8bb98d0
Revises: 422ece571366
"""

revision = 'a082b8bb98d0'
down_revision = '422ece571366'
branch_labels = None
depends_on = None


def upgrade():
    pass
