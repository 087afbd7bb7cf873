"""Consumes several topics from the earliest message until killed, printing
"M <topic> <payload> <ledger> <entry>".

usage: consume_many.py SERVICE_URL TOPIC[,TOPIC…]
"""
import sys
import time

import pulsar

service_url, topics = sys.argv[1], sys.argv[2].split(",")
client = pulsar.Client(service_url, operation_timeout_seconds=60)


def listener(consumer, message):
    id = message.message_id()
    print("M %s %s %d %d" % (message.topic_name().split("/")[-1], message.data().decode(), id.ledger_id(), id.entry_id()), flush=True)
    consumer.acknowledge(message)


consumers = [
    client.subscribe(topic, "tail", initial_position=pulsar.InitialPosition.Earliest, message_listener=listener) for topic in topics
]
while True:
    time.sleep(1)
