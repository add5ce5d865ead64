"""identity and audit: the append-only audit_event table, TOTP two-factor

user.totp_* (seed encrypted), recovery_code (hashes), tenant.require_two_factor;
social sign-in: user_identity (linked provider subjects), oauth_state (redirects in flight);
workspace SSO: workspace_sso (issuer, client, encrypted secret), sso_domain (DNS-verified).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 05:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("totp_secret_encrypted", sqlmodel.sql.sqltypes.AutoString(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("totp_enabled_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(sa.Column("totp_last_step", sa.Integer(), nullable=True))
    with op.batch_alter_table("tenant", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "require_two_factor", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
    op.create_table(
        "user_identity",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("provider", sqlmodel.sql.sqltypes.AutoString(length=48), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("provider", "subject", name="uq_user_identity_provider_subject"),
    )
    with op.batch_alter_table("user_identity", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_identity_user_id"), ["user_id"], unique=False)
    op.create_table(
        "oauth_state",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("browser_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("provider", sqlmodel.sql.sqltypes.AutoString(length=48), nullable=False),
        sa.Column("nonce", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("verifier_encrypted", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("oauth_state", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oauth_state_expires_at"), ["expires_at"], unique=False)
    op.create_table(
        "workspace_sso",
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("tenant_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("issuer", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("client_id", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("client_secret_encrypted", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("jit", sa.Boolean(), nullable=False),
        sa.Column("default_role", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenant.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", name="uq_workspace_sso_tenant"),
    )
    with op.batch_alter_table("workspace_sso", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_workspace_sso_tenant_id"), ["tenant_id"], unique=False)
    op.create_table(
        "sso_domain",
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("tenant_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("domain", sqlmodel.sql.sqltypes.AutoString(length=253), nullable=False),
        sa.Column("token", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("verified_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenant.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "domain", name="uq_sso_domain_tenant"),
    )
    with op.batch_alter_table("sso_domain", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sso_domain_domain"), ["domain"], unique=False)
        batch_op.create_index(batch_op.f("ix_sso_domain_tenant_id"), ["tenant_id"], unique=False)
    op.create_table(
        "recovery_code",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("code_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("used_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code_hash"),
    )
    with op.batch_alter_table("recovery_code", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_recovery_code_user_id"), ["user_id"], unique=False)
    op.create_table(
        "audit_event",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("tenant_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("actor_type", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("actor_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("actor_label", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("target_type", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("target_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("ip", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("user_agent", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("diff", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_event_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_event_created_at"), ["created_at"], unique=False)
        batch_op.create_index(
            "ix_audit_event_tenant_created", ["tenant_id", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_event_tenant_created")
        batch_op.drop_index(batch_op.f("ix_audit_event_created_at"))
        batch_op.drop_index(batch_op.f("ix_audit_event_action"))
    op.drop_table("audit_event")
    with op.batch_alter_table("recovery_code", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recovery_code_user_id"))
    op.drop_table("recovery_code")
    with op.batch_alter_table("sso_domain", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sso_domain_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_sso_domain_domain"))
    op.drop_table("sso_domain")
    with op.batch_alter_table("workspace_sso", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_workspace_sso_tenant_id"))
    op.drop_table("workspace_sso")
    with op.batch_alter_table("oauth_state", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_state_expires_at"))
    op.drop_table("oauth_state")
    with op.batch_alter_table("user_identity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_identity_user_id"))
    op.drop_table("user_identity")
    with op.batch_alter_table("tenant", schema=None) as batch_op:
        batch_op.drop_column("require_two_factor")
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_column("totp_last_step")
        batch_op.drop_column("totp_enabled_at")
        batch_op.drop_column("totp_secret_encrypted")
