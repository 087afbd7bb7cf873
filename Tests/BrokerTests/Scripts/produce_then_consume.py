"""Produces COUNT messages, or consumes them from the earliest position.

usage: produce_then_consume.py SERVICE_URL TOPIC produce|consume COUNT
Prints OK and exits 0 when done; consuming checks every message arrived in order.
Producing makes the subscription "check" first, which consuming reads.
"""
import sys

import pulsar

service_url, topic, mode, count = sys.argv[1:5]
count = int(count)
client = pulsar.Client(service_url, operation_timeout_seconds=20)
if mode == "produce":
    # The subscription exists before the messages, so that they are kept for it.
    client.subscribe(topic, "check", initial_position=pulsar.InitialPosition.Earliest).close()
    producer = client.create_producer(topic, block_if_queue_full=True)
    for i in range(count):
        producer.send(("m%d" % i).encode())
    producer.close()
else:
    consumer = client.subscribe(topic, "check", initial_position=pulsar.InitialPosition.Earliest)
    received = [consumer.receive(timeout_millis=20000).data().decode() for _ in range(count)]
    assert received == ["m%d" % i for i in range(count)], received[:5]
    consumer.close()
client.close()
print("OK %s %d" % (mode, count))
