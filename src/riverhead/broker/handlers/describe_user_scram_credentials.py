"""DescribeUserScramCredentials (key 50), v0: which SCRAM mechanisms (and iteration
counts) each user has — never salts or keys. A null or empty user list means every user; an
unknown user gets RESOURCE_NOT_FOUND, a name asked twice DUPLICATE_RESOURCE.
With an authorizer, needs Describe on the cluster."""

from __future__ import annotations

from collections import Counter
from typing import Any

from riverhead.broker.request import Request
from riverhead.broker.state import BrokerState
from riverhead.protocol.errors import ErrorCode
from riverhead.security.checks import cluster_denied
from riverhead.security.scram import MECHANISM_CODES


def handle(state: BrokerState, request: Request) -> dict[str, Any]:
    req = request.decode()
    denied = cluster_denied(state, request, "DESCRIBE")
    if denied:
        return {"error_code": denied, "error_message": "not authorized", "results": []}
    known = state.security.credentials.describe()
    # Null or empty both mean every user (librdkafka sends an empty array).
    names = sorted(known) if not req.users else [str(u.name) for u in req.users]
    counts = Counter(names)
    results = []
    for name in dict.fromkeys(names):
        if counts[name] > 1:
            results.append({"user": name, "error_code": ErrorCode.DUPLICATE_RESOURCE,
                            "error_message": f"user {name!r} asked more than once",
                            "credential_infos": []})
        elif name not in known:
            results.append({"user": name, "error_code": ErrorCode.RESOURCE_NOT_FOUND,
                            "error_message": f"attempt to describe a user credential that "
                            f"does not exist: {name}", "credential_infos": []})
        else:
            infos = [{"mechanism": MECHANISM_CODES[m], "iterations": i}
                     for m, i in sorted(known[name].items())]
            results.append({"user": name, "error_code": 0, "error_message": None,
                            "credential_infos": infos})
    return {"error_code": 0, "error_message": None, "results": results}
