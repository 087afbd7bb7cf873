"""Reads N messages of a topic from the earliest on a new subscription, printing "M <payload>".

usage: read_some.py SERVICE_URL TOPIC SUBSCRIPTION N
"""
import sys

import pulsar

service_url, topic, subscription, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
client = pulsar.Client(service_url, operation_timeout_seconds=30)
consumer = client.subscribe(topic, subscription, initial_position=pulsar.InitialPosition.Earliest)
for _ in range(count):
    print("M " + consumer.receive(timeout_millis=20000).data().decode(), flush=True)
client.close()
print("DONE", flush=True)
