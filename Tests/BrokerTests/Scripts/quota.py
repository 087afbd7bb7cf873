"""Backlog quotas as a client sees them.

usage: quota.py SERVICE_URL TOPIC fill COUNT SIZE   subscribes "slow", then sends COUNT
                                                    messages of SIZE random hexadecimal
                                                    digits (they do not compress); prints "OK"
       quota.py SERVICE_URL TOPIC send COUNT SIZE   sends with no subscription
       quota.py SERVICE_URL TOPIC create            tries to create a producer; prints
                                                    "CREATED" and sends one message, or
                                                    "REFUSED <exception class>"
       quota.py SERVICE_URL TOPIC drain [SECONDS]   acknowledges everything on "slow" until
                                                    quiet for 2 s (or SECONDS have passed)
"""
import os
import sys
import time

import pulsar

service_url, topic, mode = sys.argv[1:4]
client = pulsar.Client(service_url, operation_timeout_seconds=10)
if mode in ("fill", "send"):
    count, size = int(sys.argv[4]), int(sys.argv[5])
    if mode == "fill":
        client.subscribe(topic, "slow", initial_position=pulsar.InitialPosition.Earliest).close()
    producer = client.create_producer(topic, batching_enabled=False)
    for i in range(count):
        producer.send(os.urandom(size // 2).hex().encode())
    producer.close()
    print("OK", flush=True)
elif mode == "create":
    try:
        producer = client.create_producer(topic, batching_enabled=False, send_timeout_millis=5000)
        producer.send(b"after")
        print("CREATED", flush=True)
    except Exception as error:
        print("REFUSED %s %s" % (type(error).__name__, error), flush=True)
else:
    consumer = client.subscribe(topic, "slow", initial_position=pulsar.InitialPosition.Earliest)
    drained = 0
    deadline = time.time() + float(sys.argv[4]) if len(sys.argv) > 4 else None
    while deadline is None or time.time() < deadline:
        try:
            message = consumer.receive(timeout_millis=2000)
        except pulsar.Timeout:
            break
        consumer.acknowledge(message)
        drained += 1
    consumer.close()
    print("DRAINED %d" % drained, flush=True)
client.close()
