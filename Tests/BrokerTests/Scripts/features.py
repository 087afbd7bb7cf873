"""Checks one client feature against a Magnetar broker; prints OK and exits 0 when it works.

usage: features.py SERVICE_URL HTTP_URL FEATURE
"""
import json
import sys
import time
import urllib.request

import pulsar

service_url, http_url, feature = sys.argv[1:4]
client = pulsar.Client(service_url, operation_timeout_seconds=20)
topic = "persistent://public/default/feature-" + feature


def produce(topic, count, **options):
    producer = client.create_producer(topic, block_if_queue_full=True, **options)
    ids = [producer.send(("m%d" % i).encode(), partition_key="k%d" % (i % 7)) for i in range(count)]
    producer.close()
    return ids


if feature == "reader":
    ids = produce(topic, 50)
    reader = client.create_reader(topic, pulsar.MessageId.earliest)
    got = []
    while reader.has_message_available():
        got.append(reader.read_next(timeout_millis=10000).data().decode())
    assert got == ["m%d" % i for i in range(50)], got[:5]
    reader.close()
    # From a given message, inclusive and not.
    reader = client.create_reader(topic, ids[10], start_message_id_inclusive=True)
    assert reader.read_next(timeout_millis=10000).data() == b"m10"
    reader.close()
    reader = client.create_reader(topic, ids[10])
    assert reader.read_next(timeout_millis=10000).data() == b"m11"
    reader.close()
elif feature == "seek":
    ids = produce(topic, 30)
    consumer = client.subscribe(topic, "seeker", initial_position=pulsar.InitialPosition.Earliest)
    for _ in range(30):
        consumer.acknowledge(consumer.receive(timeout_millis=10000))
    consumer.seek(ids[5])
    message = consumer.receive(timeout_millis=10000)
    assert message.data() in (b"m5", b"m6"), message.data()
    before = int(time.time() * 1000)
    time.sleep(0.05)
    produce(topic, 3)
    consumer.seek(before)
    assert consumer.receive(timeout_millis=10000).data() == b"m0"
    consumer.close()
elif feature == "negative-ack":
    produce(topic, 5)
    consumer = client.subscribe(topic, "nack", consumer_type=pulsar.ConsumerType.Shared,
                                initial_position=pulsar.InitialPosition.Earliest, negative_ack_redelivery_delay_ms=100)
    first = consumer.receive(timeout_millis=10000)
    assert first.redelivery_count() == 0
    consumer.negative_acknowledge(first)
    seen = {}
    deadline = time.time() + 15
    while time.time() < deadline and first.data() not in seen:
        message = consumer.receive(timeout_millis=10000)
        if message.data() == first.data():
            seen[message.data()] = message.redelivery_count()
        consumer.acknowledge(message)
    assert seen.get(first.data(), 0) >= 1, seen
elif feature == "cumulative":
    produce(topic, 20)
    consumer = client.subscribe(topic, "cumulative", initial_position=pulsar.InitialPosition.Earliest)
    last = None
    for _ in range(20):
        last = consumer.receive(timeout_millis=10000)
    consumer.acknowledge_cumulative(last)
    consumer.close()
    consumer = client.subscribe(topic, "cumulative")
    try:
        message = consumer.receive(timeout_millis=1500)
        raise AssertionError("redelivered %s after a cumulative ack" % message.data())
    except pulsar.Timeout:
        pass
elif feature == "partitioned":
    request = urllib.request.Request(http_url + "/admin/v2/persistent/public/default/feature-partitioned/partitions",
                                     data=b"3", method="PUT", headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request)
    try:
        urllib.request.urlopen(urllib.request.Request(request.full_url, data=b"3", method="PUT"))
        raise AssertionError("a second PUT did not conflict")
    except urllib.error.HTTPError as error:
        assert error.code == 409, error.code
    assert client.get_topic_partitions(topic) == [topic + "-partition-%d" % i for i in range(3)]
    consumer = client.subscribe(topic, "all", initial_position=pulsar.InitialPosition.Earliest)
    produce(topic, 90)
    got = sorted(consumer.receive(timeout_millis=10000).data().decode() for _ in range(90))
    assert got == sorted("m%d" % i for i in range(90))
    http_client = pulsar.Client(http_url)
    assert http_client.get_topic_partitions(topic) == [topic + "-partition-%d" % i for i in range(3)]
    http_client.close()
elif feature == "exclusive-producer":
    first = client.create_producer(topic, access_mode=pulsar.ProducerAccessMode.Exclusive)
    try:
        client.create_producer(topic, access_mode=pulsar.ProducerAccessMode.Exclusive)
        raise AssertionError("a second exclusive producer was accepted")
    except pulsar.ProducerFenced:
        pass
    first.close()
    client.create_producer(topic, access_mode=pulsar.ProducerAccessMode.Exclusive).close()
elif feature == "key-shared":
    produce(topic, 0)
    consumers = [client.subscribe(topic, "ks", consumer_type=pulsar.ConsumerType.KeyShared,
                                  initial_position=pulsar.InitialPosition.Earliest) for _ in range(2)]
    produce(topic, 140)
    owner = {}
    received = 0
    for index, consumer in enumerate(consumers):
        while True:
            try:
                message = consumer.receive(timeout_millis=2000)
            except pulsar.Timeout:
                break
            received += 1
            key = message.partition_key()
            assert owner.setdefault(key, index) == index, "key %s went to two consumers" % key
            consumer.acknowledge(message)
    assert received == 140, received
elif feature == "pattern":
    produce("persistent://public/default/pattern-a", 1)
    produce("persistent://public/default/pattern-b", 1)
    consumer = client.subscribe(pulsar.re.compile if False else None, "p") if False else None
    import re
    consumer = client.subscribe(re.compile("persistent://public/default/pattern-.*"), "p",
                                initial_position=pulsar.InitialPosition.Earliest)
    got = sorted(consumer.receive(timeout_millis=10000).data() for _ in range(2))
    assert got == [b"m0", b"m0"], got
else:
    raise SystemExit("unknown feature " + feature)
client.close()
print("OK " + feature)
