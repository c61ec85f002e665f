"""OffsetForLeaderEpoch (key 23) on a single broker: epoch 0 ends at the log end."""

from __future__ import annotations

import pytest
from kio.schema.offset_for_leader_epoch.v4 import request as schema

from tests.support.raw_client import RawClient

pytestmark = pytest.mark.integration


def test_end_offset_of_the_current_epoch(broker, topic_name) -> None:
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": broker.bootstrap})
    for i in range(5):
        p.produce(topic_name, str(i).encode())
    assert p.flush(15) == 0
    with RawClient(broker.bootstrap) as client:

        def ask(epoch: int, current: int = -1, partition: int = 0):
            body = client.call(
                23,
                4,
                replica_id=-1,
                topics=(
                    schema.OffsetForLeaderTopic(
                        topic=topic_name,
                        partitions=(
                            schema.OffsetForLeaderPartition(
                                partition=partition,
                                current_leader_epoch=current,
                                leader_epoch=epoch,
                            ),
                        ),
                    ),
                ),
            )
            return body.topics[0].partitions[0]

        answer = ask(0)
        assert (answer.error_code, answer.leader_epoch, answer.end_offset) == (0, 0, 5)
        assert ask(0, current=3).error_code == 75  # UNKNOWN_LEADER_EPOCH: newer than ours
        assert ask(0, partition=9).error_code == 3  # UNKNOWN_TOPIC_OR_PARTITION
