"""Every table wabalink keeps, as the latest migration step leaves it: the service's links and the
Meta simulator's state, in one store. Queries are built from these; `store/migrations/` creates them.

Times are epoch seconds (float) so SQLite and PostgreSQL behave alike. Secrets are kept only as
SHA-256 digests (tokens) or salted scrypt hashes (PINs): nothing here can be replayed if the
database file leaks.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_at", Float, nullable=False),
)

# --- the service: linked WhatsApp Business Accounts -------------------------------------------

linked_wabas = Table(
    "linked_wabas",
    metadata,
    Column("id", String(32), primary_key=True),  # the 32 hex digits of waba-<hex>
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("meta_waba_id", String(100), nullable=False),
    Column("waba_name", String(200), nullable=False),
    Column("registration_status", String(16), nullable=False),  # INCOMPLETE | COMPLETE
    Column("link_date", Float, nullable=False),  # first link, then the finalization time
    Column("event_destinations", Text, nullable=False, default="[]"),  # JSON list
    Column("created_at", Float, nullable=False),  # with id: the stable listing order
    # INCOMPLETE links: until when a phase-1 token can finalize them (then swept).
    Column("pending_until", Float),
    UniqueConstraint("account_id", "region", "meta_waba_id", name="uq_linked_wabas_meta"),
    Index("ix_linked_wabas_owner", "account_id", "region", "created_at", "id"),
)

linked_phone_numbers = Table(
    "linked_phone_numbers",
    metadata,
    Column("id", String(32), primary_key=True),  # the 32 hex digits of phone-number-id-<hex>
    Column("waba_link_id", String(32), ForeignKey("linked_wabas.id", ondelete="CASCADE"), nullable=False),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("meta_phone_number_id", String(100), nullable=False),
    Column("phone_number", String(20), nullable=False),
    Column("display_phone_number", String(20), nullable=False),
    Column("display_phone_number_name", String(200), nullable=False),
    Column("quality_rating", String(10), nullable=False),
    Column("data_localization_region", String(2)),
    Column("linked", Boolean, nullable=False, default=False),  # False: discovered in phase 1 only
    Column("call_settings", Text),  # JSON, from UpdateLinkedWhatsAppBusinessAccountPhoneNumber
    UniqueConstraint("waba_link_id", "meta_phone_number_id", name="uq_linked_phone_meta"),
)

# One row per phase-1 answer: what phase 2 may finalize with that in-progress token.
signup_sessions = Table(
    "signup_sessions",
    metadata,
    Column("token_digest", String(64), primary_key=True),  # sha256 of associateInProgressToken
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("discovered", Text, nullable=False),  # JSON {waba_link_id: [phone_link_id, ...]}
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False, index=True),  # expired sessions are swept by it
)

resource_tags = Table(
    "resource_tags",
    metadata,
    Column("resource_arn", String(2048), primary_key=True),
    Column("tag_key", String(128), primary_key=True),
    Column("tag_value", String(256), nullable=False, default=""),
)

# Secrets generated per database at first use (see store/secrets.py).
service_secrets = Table(
    "service_secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", LargeBinary, nullable=False),
    Column("created_at", Float, nullable=False),
)

# --- Meta's side: the simulator ---------------------------------------------------------------

meta_businesses = Table(
    "meta_businesses",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", Float, nullable=False),
)

meta_wabas = Table(
    "meta_wabas",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("business_id", String(32), ForeignKey("meta_businesses.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("timezone_id", String(8), nullable=False),
    Column("created_at", Float, nullable=False),
)

meta_phone_numbers = Table(
    "meta_phone_numbers",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("waba_id", String(32), ForeignKey("meta_wabas.id"), nullable=False, index=True),
    Column("display_phone_number", String(20), nullable=False),
    Column("verified_name", String(200), nullable=False),
    Column("quality_rating", String(10), nullable=False),  # GREEN | YELLOW | RED | UNKNOWN
    Column("status", String(16), nullable=False),  # UNREGISTERED | REGISTERED
    Column("pin_hash", String(200)),  # salted scrypt, never the PIN
    Column("data_localization_region", String(2)),
    Column("updated_at", Float, nullable=False),
)

meta_webhook_subscriptions = Table(
    "meta_webhook_subscriptions",
    metadata,
    Column("waba_id", String(32), ForeignKey("meta_wabas.id"), primary_key=True),
    Column("app_id", String(32), primary_key=True),
    Column("created_at", Float, nullable=False),
)

meta_access_tokens = Table(
    "meta_access_tokens",
    metadata,
    Column("token_digest", String(64), primary_key=True),  # sha256 of the token
    Column("app_id", String(32), nullable=False),
    Column("user_id", String(32), nullable=False),
    Column("kind", String(16), nullable=False),  # USER (embedded sign-up) | SYSTEM (the service's own)
    Column("scopes", Text, nullable=False),  # JSON list
    Column("granted_waba_ids", Text, nullable=False),  # JSON list
    Column("issued_at", Float, nullable=False),
    Column("expires_at", Float),  # None: never expires
    Column("revoked", Boolean, nullable=False, default=False),
)



def complete_metadata() -> MetaData:
    """`metadata` with every area's tables: areas define theirs in their own store module on this
    `metadata`, so importing every module of the package completes it."""
    import importlib
    import pkgutil

    import wabalink.store as package

    for module in pkgutil.iter_modules(package.__path__):
        if module.name != "migrations":
            importlib.import_module(f"wabalink.store.{module.name}")
    return metadata
