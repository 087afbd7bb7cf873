"""Sends numbered messages as producer NAME until killed, the number being the sequence
id; prints "LAST <id>" (the broker's last sequence id for NAME) first, then "R <n>" for
each receipted message.

usage: dedup_producer.py SERVICE_URL TOPIC NAME
"""
import sys

import pulsar

service_url, topic, name = sys.argv[1:4]
client = pulsar.Client(service_url, operation_timeout_seconds=60)
producer = client.create_producer(topic, producer_name=name, batching_enabled=False, send_timeout_millis=60000,
                                  block_if_queue_full=True)
last = producer.last_sequence_id()
print("LAST %d" % last, flush=True)
n = last + 1
while True:
    try:
        producer.send(("%d" % n).encode(), sequence_id=n)
        print("R %d" % n, flush=True)
        n += 1
    except Exception as error:  # The broker is down: the client retries on its own.
        print("E %d %s" % (n, error), flush=True)
