"""API keys: issue, authenticate, list and revoke. Keys are shown once and stored as SHA-256."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from db.base import utcnow
from db.tables import ApiKey
from db.tables.operations import ROLES

KEY_PREFIX = "pw_"


class UnknownRoleError(ValueError):
    pass


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def create_key(session: Session, name: str, role: str) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the plaintext, which is never stored or shown again."""
    if role not in ROLES:
        raise UnknownRoleError(f"role must be one of {', '.join(ROLES)}; got {role!r}")
    public = secrets.token_hex(4)
    plaintext = f"{KEY_PREFIX}{public}_{secrets.token_urlsafe(32)}"
    key = ApiKey(name=name, prefix=public, key_hash=hash_key(plaintext), role=role)
    session.add(key)
    session.flush()
    return key, plaintext


def authenticate(session: Session, plaintext: str) -> ApiKey | None:
    """The active key with this plaintext, or None."""
    if not plaintext.startswith(KEY_PREFIX):
        return None
    return session.scalar(
        select(ApiKey).where(ApiKey.key_hash == hash_key(plaintext), ApiKey.revoked_at.is_(None))
    )


def replace_key(session: Session, name: str, role: str) -> str:
    """Delete every key with this name and issue a fresh one (for keys `up` hands its components)."""
    session.execute(delete(ApiKey).where(ApiKey.name == name))
    return create_key(session, name, role)[1]


def list_keys(session: Session) -> Sequence[ApiKey]:
    return session.scalars(select(ApiKey).order_by(ApiKey.id)).all()


def revoke_by_name(session: Session, name: str) -> int:
    """Revoke every active key with this name; returns how many."""
    result = session.execute(
        update(ApiKey).where(ApiKey.name == name, ApiKey.revoked_at.is_(None)).values(revoked_at=utcnow())
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def revoke(session: Session, key_id: int) -> bool:
    result = session.execute(
        update(ApiKey).where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None)).values(revoked_at=utcnow())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def has_admin(session: Session) -> bool:
    return (
        session.scalar(select(ApiKey.id).where(ApiKey.role == "admin", ApiKey.revoked_at.is_(None)).limit(1))
        is not None
    )
