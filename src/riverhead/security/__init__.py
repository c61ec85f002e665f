"""Security: listeners and TLS, SASL authentication, ACL authorization, limits, encryption.

Modules (one concept each):

* :mod:`~riverhead.security.listeners` — Kafka's listener names and security protocols;
* :mod:`~riverhead.security.tls` — server TLS contexts and certificate principals;
* :mod:`~riverhead.security.tls_connection` — a non-blocking TLS connection for the engine;
* :mod:`~riverhead.security.session` — who is on the other end of a connection;
* :mod:`~riverhead.security.scram` and :mod:`~riverhead.security.sasl` — SASL mechanisms;
* :mod:`~riverhead.security.credentials` — the salted SCRAM credential store;
* :mod:`~riverhead.security.acl` and :mod:`~riverhead.security.authorizer` — ACLs;
* :mod:`~riverhead.security.encryption` — AES-256-GCM of record batches at rest;
* :mod:`~riverhead.security.quotas` — connection limits and byte-rate quotas.

Nothing here is imported on the plaintext, no-authorizer hot path: a broker configured
without security pays one ``is None`` test per request.
"""
