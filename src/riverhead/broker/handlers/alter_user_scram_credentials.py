"""AlterUserScramCredentials (key 51), v0: add, replace or delete SCRAM credentials.

Upsertions carry what the client computed — ``salt`` and ``salted_password`` (PBKDF2 of
the password), never the password — from which the broker derives and stores the stored
and server keys. Per user one result: UNSUPPORTED_SASL_MECHANISM for an unknown mechanism,
UNACCEPTABLE_CREDENTIAL for an empty name, empty salt/salted password or iterations outside
4096..16384, DUPLICATE_RESOURCE when the request names the same user and mechanism twice,
RESOURCE_NOT_FOUND when deleting a credential that does not exist. A user with any error
is left untouched. With an authorizer, needs Alter on the cluster.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from riverhead.broker.request import Request
from riverhead.broker.state import BrokerState
from riverhead.protocol.errors import ErrorCode
from riverhead.security.checks import cluster_denied
from riverhead.security.scram import (
    MAX_ITERATIONS,
    MECHANISM_CODES,
    MIN_ITERATIONS,
    credential_from_salted,
)

log = logging.getLogger("riverhead.security.credentials")
_NAMES = {code: name for name, code in MECHANISM_CODES.items()}


def handle(state: BrokerState, request: Request) -> dict[str, Any]:
    req = request.decode()
    users = list(dict.fromkeys([str(d.name) for d in req.deletions] +
                               [str(u.name) for u in req.upsertions]))
    denied = cluster_denied(state, request, "ALTER")
    if denied:
        return {"results": [{"user": u, "error_code": denied, "error_message": "not authorized"}
                            for u in users]}
    errors: dict[str, tuple[ErrorCode, str]] = {}
    pairs = Counter([(str(d.name), int(d.mechanism)) for d in req.deletions] +
                    [(str(u.name), int(u.mechanism)) for u in req.upsertions])
    store = state.security.credentials
    described = store.describe()

    def fail(user: str, code: ErrorCode, message: str) -> None:
        errors.setdefault(user, (code, message))

    for (user, code), count in pairs.items():
        if count > 1:
            fail(user, ErrorCode.DUPLICATE_RESOURCE,
                 f"credential for {user!r} with mechanism {code} appears more than once")
        if code not in _NAMES:
            fail(user, ErrorCode.UNSUPPORTED_SASL_MECHANISM, f"unknown SCRAM mechanism {code}")
        if not user:
            fail(user, ErrorCode.UNACCEPTABLE_CREDENTIAL, "user name must not be empty")
    for d in req.deletions:
        name, mech = str(d.name), _NAMES.get(int(d.mechanism))
        if mech is not None and mech not in described.get(name, {}):
            fail(name, ErrorCode.RESOURCE_NOT_FOUND,
                 f"attempt to delete a user credential that does not exist: {name} {mech}")
    for u in req.upsertions:
        name = str(u.name)
        if not MIN_ITERATIONS <= int(u.iterations) <= MAX_ITERATIONS:
            fail(name, ErrorCode.UNACCEPTABLE_CREDENTIAL,
                 f"iterations must be between {MIN_ITERATIONS} and {MAX_ITERATIONS}")
        if not u.salt or not u.salted_password:
            fail(name, ErrorCode.UNACCEPTABLE_CREDENTIAL, "salt and salted password are needed")
    principal = request.conn.session.principal if request.conn.session else "User:ANONYMOUS"
    for d in req.deletions:
        name = str(d.name)
        if name not in errors:
            store.delete(name, _NAMES[int(d.mechanism)])
            log.info("%s deleted the %s credential of %s", principal,
                     _NAMES[int(d.mechanism)], name)
    for u in req.upsertions:
        name = str(u.name)
        if name not in errors:
            mechanism = _NAMES[int(u.mechanism)]
            store.upsert(name, mechanism, credential_from_salted(
                mechanism, bytes(u.salted_password), bytes(u.salt), int(u.iterations)))
            log.info("%s set the %s credential of %s", principal, mechanism, name)
    return {"results": [
        {"user": u, "error_code": errors[u][0] if u in errors else 0,
         "error_message": errors[u][1] if u in errors else None}
        for u in users
    ]}
