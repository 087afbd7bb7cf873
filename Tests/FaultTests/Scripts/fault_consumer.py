"""Subscribes to topics from the earliest message until killed, printing
"M <producer> <seq> <ledger> <entry>" for each message (payload "<producer> <seq>") and
acknowledging it.

usage: fault_consumer.py SERVICE_URL TOPIC[,TOPIC…] SUBSCRIPTION
"""
import sys
import threading
import time

import pulsar

service_url, topics, subscription = sys.argv[1], sys.argv[2].split(","), sys.argv[3]
client = pulsar.Client(service_url, operation_timeout_seconds=15)
lock = threading.Lock()


def listener(consumer, message):
    id = message.message_id()
    with lock:
        print("M %s %d %d" % (message.data().decode(), id.ledger_id(), id.entry_id()), flush=True)
    consumer.acknowledge(message)


def subscribe(topic):
    while True:
        try:
            return client.subscribe(topic, subscription, initial_position=pulsar.InitialPosition.Earliest, message_listener=listener)
        except Exception as error:  # A broker down or moving: try again.
            with lock:
                print("W %s cannot subscribe yet: %s" % (topic, error), flush=True)
            time.sleep(0.5)


consumers = [subscribe(topic) for topic in topics]
with lock:
    print("STARTED", flush=True)
while True:
    time.sleep(1)
