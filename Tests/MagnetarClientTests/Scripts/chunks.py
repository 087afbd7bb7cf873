"""Sends or checks one large message, chunked, with the real Pulsar client.

usage: chunks.py produce SERVICE_URL TOPIC SIZE
       chunks.py consume SERVICE_URL TOPIC SUBSCRIPTION SIZE
Byte i of the message is (i * 31 + i // 7) % 251. "consume" prints "OK <size>" when the
message it received is exactly that.
"""
import sys

import pulsar


def expected(size):
    return bytes((i * 31 + i // 7) % 251 for i in range(size))


mode, service_url, topic = sys.argv[1:4]
client = pulsar.Client(service_url, operation_timeout_seconds=20, logger=pulsar.ConsoleLogger(pulsar.LoggerLevel.Error))
if mode == "produce":
    size = int(sys.argv[4])
    producer = client.create_producer(topic, chunking_enabled=True, batching_enabled=False)
    producer.send(expected(size))
    producer.close()
    print("OK", flush=True)
else:
    subscription, size = sys.argv[4], int(sys.argv[5])
    consumer = client.subscribe(topic, subscription, initial_position=pulsar.InitialPosition.Earliest)
    message = consumer.receive(timeout_millis=20000)
    data = message.data()
    assert data == expected(size), "got %d bytes, first difference at %s" % (len(data), next((i for i, (a, b) in enumerate(zip(data, expected(size))) if a != b), None))
    consumer.acknowledge(message)
    print("OK %d" % len(data), flush=True)
client.close()
