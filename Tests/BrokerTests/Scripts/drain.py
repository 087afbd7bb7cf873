"""Consumes a topic from the earliest message until nothing arrives for 5 s; prints the
payloads, one per line, after "M ".

usage: drain.py SERVICE_URL TOPIC
"""
import sys

import pulsar

service_url, topic = sys.argv[1:3]
client = pulsar.Client(service_url, operation_timeout_seconds=30)
consumer = client.subscribe(topic, "drain", initial_position=pulsar.InitialPosition.Earliest)
while True:
    try:
        message = consumer.receive(timeout_millis=5000)
    except pulsar.Timeout:
        break
    print("M " + message.data().decode(), flush=True)
    consumer.acknowledge(message)
client.close()
print("DONE", flush=True)
