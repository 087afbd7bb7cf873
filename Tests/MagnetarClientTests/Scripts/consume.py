"""Consumes COUNT messages with the real Pulsar client and prints each as JSON.

usage: consume.py SERVICE_URL TOPIC SUBSCRIPTION COUNT
Prints "M {json}" per message (data, key, properties, partition), then "DONE".
"""
import json
import sys

import pulsar

service_url, topic, subscription, count = sys.argv[1:5]
count = int(count)
client = pulsar.Client(service_url, operation_timeout_seconds=20, logger=pulsar.ConsoleLogger(pulsar.LoggerLevel.Error))
consumer = client.subscribe(topic, subscription, initial_position=pulsar.InitialPosition.Earliest)
for _ in range(count):
    message = consumer.receive(timeout_millis=20000)
    record = {"data": message.data().decode(), "key": message.partition_key(), "properties": message.properties(), "topic": message.topic_name()}
    print("M " + json.dumps(record, sort_keys=True), flush=True)
    consumer.acknowledge(message)
consumer.close()
client.close()
print("DONE", flush=True)
