"""Subscribes (Exclusive) with a short operation timeout, trying again after each
failure, then receives one message. Prints "W <attempt> <error>" for each failed attempt,
"SUBSCRIBED <attempts>" once subscribed, "GOT <payload>" for the message, or
"GAVE UP" after SECONDS.

usage: subscribe_patiently.py SERVICE_URL TOPIC SECONDS
"""
import sys
import time

import pulsar

service_url, topic, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
client = pulsar.Client(service_url, operation_timeout_seconds=2)
deadline = time.time() + seconds
attempts = 0
while True:
    attempts += 1
    try:
        consumer = client.subscribe(topic, "patient", consumer_type=pulsar.ConsumerType.Exclusive,
                                    initial_position=pulsar.InitialPosition.Earliest)
        break
    except Exception as error:
        print("W %d %s" % (attempts, error), flush=True)
        if time.time() > deadline:
            print("GAVE UP", flush=True)
            sys.exit(1)
        time.sleep(0.5)
print("SUBSCRIBED %d" % attempts, flush=True)
message = consumer.receive(timeout_millis=20000)
print("GOT %s" % message.data().decode(), flush=True)
client.close()
