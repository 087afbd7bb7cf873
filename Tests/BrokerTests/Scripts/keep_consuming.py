"""Consumes a topic from the earliest message until killed, printing "M <payload>".

usage: keep_consuming.py SERVICE_URL TOPIC
"""
import sys

import pulsar

service_url, topic = sys.argv[1:3]
client = pulsar.Client(service_url, operation_timeout_seconds=60)
consumer = client.subscribe(topic, "tail", initial_position=pulsar.InitialPosition.Earliest)
while True:
    try:
        message = consumer.receive(timeout_millis=1000)
    except pulsar.Timeout:
        continue
    print("M " + message.data().decode().strip(), flush=True)
    consumer.acknowledge(message)
