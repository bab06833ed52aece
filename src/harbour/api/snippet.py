"""The published "connect with ccxt" snippet (clients.md section 2), filled in for one server.

It maps every entry of ccxt's ``urls['api']`` (REST, websocket and ws-api alike) to our
hosts, keeping each path, so no request of a pointed client can reach Binance.
"""

from __future__ import annotations

_TEMPLATE = '''import re
import ccxt.pro as ccxtpro        # the same works for ccxt and ccxt.async_support
REST, WS = {rest!r}, {ws!r}
KEY, SECRET = {key!r}, {secret!r}

def repoint(node):                # keep every path, swap every host (REST and ws, incl. ws-api)
    if isinstance(node, dict):
        return {{k: repoint(v) for k, v in node.items()}}
    if isinstance(node, str):
        return re.sub(r'^https://[^/]+', REST, re.sub(r'^wss://[^/]+', WS, node))
    return node

urls = repoint(ccxtpro.binanceusdm().describe()['urls']['api'])
ex = ccxtpro.binanceusdm({{'apiKey': KEY, 'secret': SECRET, 'urls': {{'api': urls}},
                          'hostname': {hostname!r}}})
'''


def ccxt_snippet(rest: str, ws: str, key: str = "KEY", secret: str = "SECRET", hostname: str = "example-exchange.hk") -> str:
    """The snippet for a server at ``rest`` (e.g. http://127.0.0.1:8080) and ``ws`` (ws://...)."""
    return _TEMPLATE.format(rest=rest, ws=ws, key=key, secret=secret, hostname=hostname)
