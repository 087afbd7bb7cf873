"""Sends numbered messages until killed, printing "R <n>" for each receipted one.

usage: keep_producing.py SERVICE_URL TOPIC
"""
import sys

import pulsar

service_url, topic = sys.argv[1:3]
client = pulsar.Client(service_url, operation_timeout_seconds=60)
producer = client.create_producer(topic, batching_enabled=False, send_timeout_millis=60000, block_if_queue_full=True)
n = 0
while True:
    try:
        producer.send(("%d" % n).encode())
        print("R %d" % n, flush=True)
        n += 1
    except Exception as error:  # The broker is down: the client retries on its own.
        print("E %d %s" % (n, error), flush=True)
