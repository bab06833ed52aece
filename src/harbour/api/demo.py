"""The demo venue ``harbour serve`` starts: accounts, their money, and API keys for them.

Everything is derived from a seed, so the printed keys are the same on every start with the
same seed (a demo on loopback, not a production key ceremony). Accounts:

* 1: the affiliated market maker (its own legal entity), well funded;
* 1001, 1002: professional-investor clients, status valid for a year;
* 1003: a client whose professional-investor status has lapsed (orders may only reduce);
* 2001: simulated client flow (takes liquidity now and then, so the market trades).

Keys: one HMAC key per account role (read + trade), an auditor and a compliance key
(read-only, no account) and an operator key (read + trade: the /hk/v1 operator actions).
The HMAC secrets come from the key store's master key; nothing secret is stored.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

from harbour.api.keys import KeyStore, Role, Scope
from harbour.kernel.money import MICRO
from harbour.venue import default_genesis
from harbour.venue.commands import AccountKind, Deposit, OpenAccount, VenueCommand

MM_ACCOUNT: Final = 1
MM_LEGAL_ENTITY: Final = "Harbour Liquidity Ltd"
CLIENT_A: Final = 1001
CLIENT_B: Final = 1002
LAPSED_CLIENT: Final = 1003
FLOW_ACCOUNT: Final = 2001
NS_PER_DAY: Final = 86_400 * 1_000_000_000


@dataclass(frozen=True, slots=True, kw_only=True)
class Credential:
    label: str
    role: Role
    account: int | None
    api_key: str
    secret: str


def _derive(seed: int, what: str) -> str:
    return hashlib.blake2b(f"harbour-demo:{seed}:{what}".encode(), digest_size=32).hexdigest()


def demo_keys(seed: int) -> tuple[KeyStore, list[Credential]]:
    """The demo key store and the credentials to print (secrets derived, not stored)."""
    store = KeyStore(master=bytes.fromhex(_derive(seed, "master")))
    both = (Scope.READ, Scope.TRADE)
    plan: list[tuple[str, Role, int | None, tuple[Scope, ...]]] = [
        ("client-a", Role.CLIENT, CLIENT_A, both),
        ("client-b", Role.CLIENT, CLIENT_B, both),
        ("lapsed-pi-client", Role.CLIENT, LAPSED_CLIENT, both),
        ("market-maker", Role.AFFILIATED_MM, MM_ACCOUNT, both),
        ("auditor", Role.AUDITOR, None, (Scope.READ,)),
        ("operator", Role.OPERATOR, None, both),
        ("compliance", Role.COMPLIANCE, None, (Scope.READ,)),
    ]
    creds = []
    for label, role, account, scopes in plan:
        key, secret = store.issue_hmac(role, account, scopes, key_id=_derive(seed, "key:" + label), label=label)
        creds.append(Credential(label=label, role=role, account=account, api_key=key.key_id, secret=secret))
    return store, creds


def demo_setup(start_ns: int) -> list[VenueCommand]:
    """Genesis, then the demo accounts and their deposits."""
    year = start_ns + 365 * NS_PER_DAY
    commands: list[VenueCommand] = list(default_genesis())
    commands += [
        OpenAccount(account=MM_ACCOUNT, kind=AccountKind.AFFILIATED_MM, legal_entity=MM_LEGAL_ENTITY),
        Deposit(account=MM_ACCOUNT, asset="USD", amount=10_000_000 * MICRO, reference="mm-funding"),
        Deposit(account=MM_ACCOUNT, asset="HKD", amount=80_000_000 * MICRO, reference="mm-funding"),
        OpenAccount(account=CLIENT_A, kind=AccountKind.CLIENT, pi_expiry_ns=year, legal_entity="Demo Client A Ltd"),
        Deposit(account=CLIENT_A, asset="USD", amount=1_000_000 * MICRO, reference="demo"),
        Deposit(account=CLIENT_A, asset="HKD", amount=8_000_000 * MICRO, reference="demo"),
        OpenAccount(account=CLIENT_B, kind=AccountKind.CLIENT, pi_expiry_ns=year, legal_entity="Demo Client B Ltd"),
        Deposit(account=CLIENT_B, asset="USD", amount=10_000 * MICRO, reference="demo"),
        OpenAccount(account=LAPSED_CLIENT, kind=AccountKind.CLIENT, pi_expiry_ns=start_ns - NS_PER_DAY, legal_entity="Lapsed PI Ltd"),
        Deposit(account=LAPSED_CLIENT, asset="USD", amount=100_000 * MICRO, reference="demo"),
        OpenAccount(account=FLOW_ACCOUNT, kind=AccountKind.CLIENT, pi_expiry_ns=year, legal_entity="Simulated Flow Ltd"),
        Deposit(account=FLOW_ACCOUNT, asset="USD", amount=5_000_000 * MICRO, reference="sim-flow"),
        Deposit(account=FLOW_ACCOUNT, asset="HKD", amount=40_000_000 * MICRO, reference="sim-flow"),
    ]
    return commands
