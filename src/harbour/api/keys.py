"""API keys: who a request is, what it may do, and the check of its signature.

Two kinds of key, both usable by an unmodified ccxt client:

* HMAC-SHA256: ``signature`` = hex(HMAC(secret, payload)). The secret is never stored: it
  is derived as HMAC-SHA256(server master key, key id), so the store holds only the key's
  id and its grants, and a copy of the store leaks no secret.
* Ed25519: ``signature`` = base64(Ed25519 sign(payload)) (URL-encoded in the query, as ccxt
  sends it); only the public key is stored.

The payload is the exact bytes as sent: the query string (GET, DELETE) or the form body
(POST, PUT), or both concatenated (Binance's "totalParams"), up to the ``&signature=`` that
ends it. Parameters are never re-sorted or re-encoded before checking.

A key belongs to a role; client and affiliated-MM keys to one account. Scopes (read,
trade, withdraw) and an optional IP allowlist restrict it further.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum


class Role(str, Enum):
    CLIENT = "CLIENT"
    AFFILIATED_MM = "AFFILIATED_MM"
    OPERATOR = "OPERATOR"
    COMPLIANCE = "COMPLIANCE"
    AUDITOR = "AUDITOR"  # read-only


class Scope(str, Enum):
    READ = "READ"
    TRADE = "TRADE"
    WITHDRAW = "WITHDRAW"


class KeyKind(str, Enum):
    HMAC = "HMAC"
    ED25519 = "ED25519"


ACCOUNT_ROLES = frozenset({Role.CLIENT, Role.AFFILIATED_MM})


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiKey:
    key_id: str
    role: Role
    account: int | None  # the one account a client or MM key acts for; None for staff roles
    scopes: frozenset[Scope]
    kind: KeyKind = KeyKind.HMAC
    public_key: bytes = b""  # Ed25519 raw public key (32 bytes); empty for HMAC
    ip_allowlist: tuple[str, ...] = ()  # empty: any address
    label: str = ""

    def allows_ip(self, address: str) -> bool:
        return not self.ip_allowlist or address in self.ip_allowlist


@dataclass(slots=True)
class KeyStore:
    """Keys by id. Holds no HMAC secret: those are derived from ``master`` on demand."""

    master: bytes
    keys: dict[str, ApiKey] = field(default_factory=dict)

    def hmac_secret(self, key_id: str) -> str:
        """The secret handed to the key's owner once, at issue; recomputable, never stored."""
        return hmac.new(self.master, b"harbour-api-secret:" + key_id.encode(), hashlib.sha256).hexdigest()

    def issue_hmac(
        self,
        role: Role,
        account: int | None,
        scopes: Iterable[Scope],
        *,
        key_id: str | None = None,
        ip_allowlist: tuple[str, ...] = (),
        label: str = "",
    ) -> tuple[ApiKey, str]:
        """Create an HMAC key; return it with its secret (shown to the owner, not kept)."""
        _check_role(role, account)
        kid = key_id or secrets.token_hex(32)
        key = ApiKey(key_id=kid, role=role, account=account, scopes=frozenset(scopes), ip_allowlist=ip_allowlist, label=label)
        self.keys[kid] = key
        return key, self.hmac_secret(kid)

    def register_ed25519(
        self,
        role: Role,
        account: int | None,
        scopes: Iterable[Scope],
        public_key: bytes,
        *,
        key_id: str | None = None,
        ip_allowlist: tuple[str, ...] = (),
        label: str = "",
    ) -> ApiKey:
        """Register a client-generated Ed25519 public key (raw 32 bytes)."""
        _check_role(role, account)
        if len(public_key) != 32:
            raise ValueError("an Ed25519 public key is 32 raw bytes")
        kid = key_id or secrets.token_hex(32)
        key = ApiKey(
            key_id=kid,
            role=role,
            account=account,
            scopes=frozenset(scopes),
            kind=KeyKind.ED25519,
            public_key=public_key,
            ip_allowlist=ip_allowlist,
            label=label,
        )
        self.keys[kid] = key
        return key

    def get(self, key_id: str) -> ApiKey | None:
        return self.keys.get(key_id)

    def verify(self, key: ApiKey, payload: bytes, signature: str) -> bool:
        """Whether ``signature`` (as decoded from the request) signs ``payload`` for ``key``."""
        if key.kind is KeyKind.HMAC:
            expected = hmac.new(self.hmac_secret(key.key_id).encode(), payload, hashlib.sha256).hexdigest()
            return hmac.compare_digest(expected, signature.lower())
        return _verify_ed25519(key.public_key, payload, signature)


def _check_role(role: Role, account: int | None) -> None:
    if (role in ACCOUNT_ROLES) != (account is not None):
        raise ValueError(f"a {role.value} key {'needs' if role in ACCOUNT_ROLES else 'must not have'} an account")


def _verify_ed25519(public_key: bytes, payload: bytes, signature: str) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        raw = base64.b64decode(signature, validate=True)
        Ed25519PublicKey.from_public_bytes(public_key).verify(raw, payload)
    except (InvalidSignature, ValueError):
        return False
    return True
