"""Producers and consumers of many topics, each connected through a different broker.

usage: cluster_workload.py BROKER_URLS TOPIC_PREFIX TOPICS COUNT
BROKER_URLS is a comma-separated list of pulsar://host:port. The producer of topic i
connects through broker i, its consumer through broker i+1 (modulo their number); each
client follows lookups to the topic's owner. Prints OK and exits 0 when every message
of every topic arrived, in order.
"""
import sys

import pulsar

urls, prefix, topics, count = sys.argv[1].split(","), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
clients = [pulsar.Client(url, operation_timeout_seconds=30) for url in urls]
names = ["%s-%d" % (prefix, i) for i in range(topics)]
consumers = [
    clients[(i + 1) % len(clients)].subscribe(name, "workload", initial_position=pulsar.InitialPosition.Earliest)
    for i, name in enumerate(names)
]
producers = [
    clients[i % len(clients)].create_producer(name, batching_enabled=True, batching_max_publish_delay_ms=1, block_if_queue_full=True)
    for i, name in enumerate(names)
]
failures = []
for n in range(count):
    for name, producer in zip(names, producers):
        producer.send_async(("%s %d" % (name, n)).encode(), lambda result, _: result == pulsar.Result.Ok or failures.append(result))
for producer in producers:
    producer.flush()
assert not failures, "send failures: %s" % failures[:5]
for name, consumer in zip(names, consumers):
    received = []
    while len(received) < count:
        message = consumer.receive(timeout_millis=20000)
        received.append(message.data().decode())
        consumer.acknowledge(message)
    expected = ["%s %d" % (name, n) for n in range(count)]
    assert received == expected, "%s: first difference at %d" % (
        name, next(i for i, (a, b) in enumerate(zip(received, expected)) if a != b))
for client in clients:
    client.close()
print("OK %d topics, %d messages each" % (topics, count), flush=True)
