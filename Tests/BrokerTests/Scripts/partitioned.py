"""Produces COUNT messages to a partitioned topic and consumes them on a Shared
subscription; prints OK when every message arrived once (order across partitions is not
kept, by design).

usage: partitioned.py SERVICE_URL TOPIC COUNT
"""
import sys

import pulsar

service_url, topic, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
client = pulsar.Client(service_url, operation_timeout_seconds=30)
consumer = client.subscribe(topic, "parts", consumer_type=pulsar.ConsumerType.Shared, initial_position=pulsar.InitialPosition.Earliest)
producer = client.create_producer(topic, batching_enabled=True, batching_max_publish_delay_ms=1, block_if_queue_full=True)
failures = []
for n in range(count):
    producer.send_async(("%d" % n).encode(), lambda result, _: result == pulsar.Result.Ok or failures.append(result), partition_key="k%d" % n)
producer.flush()
assert not failures, "send failures: %s" % failures[:5]
received = []
while len(received) < count:
    message = consumer.receive(timeout_millis=20000)
    received.append(int(message.data()))
    consumer.acknowledge(message)
assert sorted(received) == list(range(count)), "not every message once: %d received" % len(received)
client.close()
print("OK %d messages" % count, flush=True)
