"""The broker's security state, shared by handlers: credentials, mechanisms, timings.

Built once from the configuration (``BrokerState.security``):

* ``sasl.enabled.mechanisms`` (per listener via ``listener.name.<l>.sasl.enabled.mechanisms``)
  — any of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512;
* ``connections.max.reauth.ms`` — when > 0, SASL sessions (SaslAuthenticate v1+) learn
  their lifetime and are closed if they send anything but a re-authentication after it;
* ``connection.failed.authentication.delay.ms`` — the failure response is held back this
  long (on the purgatory's timer, no thread blocked) before the connection is closed,
  which slows password guessing down;
* ``sasl.server.max.receive.size`` — the largest frame accepted before authentication;
* ``authorizer.class.name`` — any non-empty value (Kafka's class names are accepted)
  turns on the ACL authorizer (:mod:`riverhead.security.authorizer`) with ``super.users``
  and ``allow.everyone.if.no.acl.found``; ACLs live in ``<log.dir>/security/acls.json``.

Thread-safe: immutable after construction apart from the thread-safe stores it holds.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from riverhead.broker.config import BrokerConfig, ConfigError
from riverhead.log.partition import PartitionLog
from riverhead.security.acl import FILE as ACL_FILE
from riverhead.security.acl import AclError, AclStore
from riverhead.security.authorizer import Authorizer, parse_super_users
from riverhead.security.credentials import Credentials, CredentialStore
from riverhead.security.encryption import BatchCipher, EncryptionError, Keyring, applies_to
from riverhead.security.listeners import listener_setting
from riverhead.security.quotas import byte_quota
from riverhead.security.sasl import SUPPORTED
from riverhead.security.zk_acls import ZkAclStore
from riverhead.security.zk_credentials import ZkCredentialStore


class SecurityManager:
    def __init__(self, config: BrokerConfig, data_dir: Path | None) -> None:
        self.config = config
        self.credentials: Credentials = CredentialStore(
            CredentialStore.in_log_dir(data_dir).path if data_dir is not None else None
        )
        # Salts answered for unknown users derive from this: stable within a run, so a
        # repeated probe for one name sees one salt, as for a real user.
        self.fake_salt_secret = os.urandom(32)
        self.reauth_ms = config.get_int("connections.max.reauth.ms")
        self.failed_auth_delay_ms = config.get_int("connection.failed.authentication.delay.ms")
        self.max_unauthenticated_frame = config.get_int("sasl.server.max.receive.size")
        self.authorizer: Authorizer | None = None
        self.acls: AclStore | ZkAclStore | None = None
        name = config.get("authorizer.class.name").strip()
        if name:
            try:
                self.acls = AclStore(data_dir / ACL_FILE if data_dir is not None else None)
            except AclError as exc:
                raise ConfigError(str(exc)) from None
            self.authorizer = Authorizer(
                self.acls,
                parse_super_users(config.get("super.users")),
                config.get_bool("allow.everyone.if.no.acl.found"),
            )
        self.keyring = Keyring.from_config(config)  # None: no encryption at rest
        # Byte-rate quotas per principal (None: unlimited, nothing counted).
        self.produce_quota = byte_quota(config, "quota.producer.default")
        self.fetch_quota = byte_quota(config, "quota.consumer.default")
        self._mechanisms: dict[str, tuple[str, ...]] = {}
        for lst in config.listeners:
            self.mechanisms(lst.name)  # validate at start

    def encrypt_at_rest(
        self, plog: PartitionLog, topic: str, partition: int, cleanup_policy: str
    ) -> None:
        """Give the partition a cipher when encryption at rest applies to it, and check
        that its oldest batch decrypts (a wrong or missing key fails the start, loudly)."""
        if self.keyring is None or not applies_to(topic, cleanup_policy):
            return
        cipher = BatchCipher(self.keyring, topic, partition)
        first = plog.read(plog.log_start_offset, 1, upper_bound=plog.log_end_offset)
        if first is not None and first.size:
            try:
                cipher.open(first.read())
            except EncryptionError as exc:
                raise ConfigError(f"partition {topic}-{partition}: {exc}") from None
        plog.cipher = cipher

    def use_zookeeper(self, client: Any) -> None:
        """Cluster mode: SCRAM credentials and ACLs live in ZooKeeper, shared by every
        broker."""
        self.credentials = ZkCredentialStore(client)
        if self.authorizer is not None:
            self.acls = ZkAclStore(client)
            self.authorizer.store = self.acls

    def mechanisms(self, listener: str) -> tuple[str, ...]:
        found = self._mechanisms.get(listener)
        if found is None:
            raw = listener_setting(self.config, listener, "sasl.enabled.mechanisms")
            found = tuple(m.strip().upper() for m in raw.split(",") if m.strip())
            unknown = [m for m in found if m not in SUPPORTED]
            if unknown:
                raise ConfigError(
                    f"sasl.enabled.mechanisms: {', '.join(unknown)} not supported: use "
                    f"{', '.join(SUPPORTED)}"
                )
            self._mechanisms[listener] = found
        return found
