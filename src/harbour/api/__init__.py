"""The trading gateway: Binance USDⓈ-M REST dialect over the venue, through its single writer.

``VenueService`` owns the sequencer, journal, engine and read model on one thread; the
gateway (``create_app``, a plain ASGI application with a dictionary route table)
authenticates requests and turns them into jobs for it; ``ServerThread`` /
``serve_forever`` run it under uvicorn on loopback. ``harbour serve`` (cli) composes these
with the live simulated market (``harbour.sim.live_market``).
"""

from harbour.api.demo import Credential, demo_keys, demo_setup
from harbour.api.errors import ApiError
from harbour.api.keys import ApiKey, KeyKind, KeyStore, Role, Scope
from harbour.api.readmodel import ReadModel
from harbour.api.rest import Gateway, GatewayConfig, create_app
from harbour.api.server import ServerThread, serve_forever
from harbour.api.service import VenueService, WriterContext
from harbour.api.snippet import ccxt_snippet

__all__ = [
    "ApiError",
    "ApiKey",
    "Credential",
    "Gateway",
    "GatewayConfig",
    "KeyKind",
    "KeyStore",
    "ReadModel",
    "Role",
    "Scope",
    "ServerThread",
    "VenueService",
    "WriterContext",
    "ccxt_snippet",
    "create_app",
    "demo_keys",
    "demo_setup",
    "serve_forever",
]
