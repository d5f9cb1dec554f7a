"""The one rule for text that comes from outside the daemon: API clients and the command line.

**The rule.** Text from a client may hold any Unicode character except

* control characters (Unicode category ``Cc``): the C0 controls U+0000–U+001F — NUL, tab,
  line feed and carriage return included —, DEL U+007F and the C1 controls U+0080–U+009F;
* surrogates U+D800–U+DFFF, which are not characters: alone they have no UTF-8 encoding.

It holds for every piece of text, whatever it names: usernames and passwords, symbols,
strategy ids, API key names, kill-switch reasons, trade comments, query parameters (names
and values), path parameters, every string of a JSON body or WebSocket message (keys
included) and command-line arguments other than file paths. Length limits are per field.

Why one rule and these characters:

* PostgreSQL ``text`` and ``jsonb`` cannot hold U+0000 (asyncpg raises), and a lone surrogate
  cannot be encoded at all (asyncpg, hashing, Argon2 raise): such text used to turn into
  500s. Refused at the edge, it never reaches a store.
* Every text field of this daemon is a one-line label — a name, a reason, a comment, a
  secret — so line breaks and tabs have no use there, and in a log line, an audit message or
  a terminal they forge lines and escape sequences (C1's U+009B is a terminal escape too).
  No field needs an exception, so there is none: a client need not learn per-field rules.
* Everything else is allowed, including format characters such as the right-to-left marks
  U+200F and U+202E, which right-to-left text legitimately uses (the daemon shows them as
  data and never lays anything out with them), and non-characters such as U+FFFF, which
  PostgreSQL stores.

MetaTrader's own limit on order comments (about 27 characters of plain ASCII, see
``docs/terminals.md``, "MetaTrader 5 facts") is no client's concern: the daemon's order comment
is always its own client order id (:data:`forexbot.engine.orders.MAX_COMMENT`); a manual
trade's ``comment`` is kept as the trade's reason, in the database only.

Messages name where the text is (a field, a parameter, an argument) and never repeat the text,
which may be a password.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence

#: What the rule refuses: control characters (Cc) and surrogates (Cs).
_REFUSED = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")

#: The problem, as told to whoever sent the text.
PROBLEM = "must not contain control characters (U+0000–U+001F, U+007F–U+009F) or surrogates"
#: The problem of a mapping key, reported at its mapping (naming the key would repeat it).
KEY_PROBLEM = "keys " + PROBLEM

#: Where in a JSON value: keys and list indexes from the top.
Location = tuple[str | int, ...]


def is_client_text(value: str) -> bool:
    """Whether ``value`` keeps the rule."""
    return _REFUSED.search(value) is None


def escaped(value: str) -> str:
    """``value`` with what the rule refuses written as ``\\xNN`` / ``\\uNNNN`` escapes: for
    log lines about refused input, which must neither forge lines and terminal escapes in a
    console nor break a JSON encoder (surrogates)."""
    return _REFUSED.sub(_escape, value)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def text_problems(value: object) -> Iterator[tuple[Location, str]]:
    """``(where, problem)`` for every string in the JSON-like ``value`` that breaks the rule,
    mapping keys included (reported at their mapping, with :data:`KEY_PROBLEM`, before what
    the mapping holds), values in document order. Iterative, so no nesting depth a JSON
    parser accepts can exhaust the stack."""
    stack: list[tuple[Location, object]] = [((), value)]
    while stack:
        at, item = stack.pop()
        if isinstance(item, str):
            if not is_client_text(item):
                yield at, PROBLEM
            continue
        children: list[tuple[Location, object]] = []
        if isinstance(item, Mapping):
            for key, child in item.items():
                if isinstance(key, str) and not is_client_text(key):
                    yield at, KEY_PROBLEM
                else:
                    children.append(((*at, key), child))
        elif isinstance(item, Sequence) and not isinstance(item, bytes | bytearray):
            children = [((*at, index), child) for index, child in enumerate(item)]
        stack.extend(reversed(children))
