"""Produces and consumes with the real Pulsar client against a Magnetar broker.

usage: produce_consume.py SERVICE_URL TOPIC COMPRESSION(lz4|zstd|none) SUBSCRIPTION_TYPE(exclusive|shared|failover) COUNT
Prints OK and exits 0 when every message arrived intact and in order.
"""
import sys

import pulsar

service_url, topic, compression, subscription_type, count = sys.argv[1:6]
count = int(count)
compressions = {"lz4": pulsar.CompressionType.LZ4, "zstd": pulsar.CompressionType.ZSTD, "none": pulsar.CompressionType.NONE}
types = {"exclusive": pulsar.ConsumerType.Exclusive, "shared": pulsar.ConsumerType.Shared, "failover": pulsar.ConsumerType.Failover}

client = pulsar.Client(service_url, operation_timeout_seconds=20)
consumer = client.subscribe(
    topic, "sub-" + subscription_type, consumer_type=types[subscription_type],
    initial_position=pulsar.InitialPosition.Earliest,
)
producer = client.create_producer(
    topic, batching_enabled=True, batching_max_publish_delay_ms=1, compression_type=compressions[compression],
    block_if_queue_full=True,
)
receipts = []
for i in range(count):
    producer.send_async(("message %d " % i).encode() + b"x" * (i % 100), lambda result, message_id: receipts.append((result, message_id)))
producer.flush()
failed = [result for result, _ in receipts if result != pulsar.Result.Ok]
assert not failed, "send failures: %s" % failed[:5]
assert len(receipts) == count, "%d receipts for %d sends" % (len(receipts), count)

received = []
while len(received) < count:
    message = consumer.receive(timeout_millis=20000)
    received.append(message.data())
    consumer.acknowledge(message)
expected = [("message %d " % i).encode() + b"x" * (i % 100) for i in range(count)]
assert received == expected, "first difference at %d" % next(i for i, (a, b) in enumerate(zip(received, expected)) if a != b)
producer.close()
consumer.close()
client.close()
print("OK %d messages" % count)
