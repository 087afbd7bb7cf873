"""Checks one client feature against a Magnetar broker; prints OK and exits 0 when it works.

usage: features.py SERVICE_URL HTTP_URL FEATURE
"""
import json
import re
import sys
import threading
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


def produce_batched(topic, count):
    """Sends m0..m<count-1> in batches of ten, each one entry."""
    producer = client.create_producer(topic, batching_enabled=True, batching_max_messages=10,
                                      batching_max_publish_delay_ms=1000)
    for i in range(count):
        producer.send_async(("m%d" % i).encode(), None)
    producer.flush()
    producer.close()


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
elif feature == "reader-batched":
    # The last entry is a batch: a reader inside it must still see messages available.
    produce_batched(topic, 30)
    reader = client.create_reader(topic, pulsar.MessageId.earliest)
    got = []
    while reader.has_message_available():
        got.append(reader.read_next(timeout_millis=10000).data().decode())
    assert got == ["m%d" % i for i in range(30)], got
    reader.close()
    # From the latest message inclusive: the last message of the last batch, alone.
    reader = client.create_reader(topic, pulsar.MessageId.latest, start_message_id_inclusive=True)
    assert reader.has_message_available()
    assert reader.read_next(timeout_millis=10000).data() == b"m29"
    assert not reader.has_message_available()
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
elif feature == "reader-seek":
    # A reader that seeks is served again once its seek completes (not refused: "no consumer").
    ids = produce(topic, 10)
    reader = client.create_reader(topic, pulsar.MessageId.earliest)
    for _ in range(10):
        reader.read_next(timeout_millis=10000)
    assert not reader.has_message_available()
    reader.seek(ids[3])
    got = []
    while reader.has_message_available():
        got.append(reader.read_next(timeout_millis=10000).data().decode())
    assert got and got[0] in ("m3", "m4") and got[-1] == "m9", got
    reader.close()
elif feature == "seek-batched":
    # A seek to a message inside a batch: that message (or the one after) comes next.
    produce_batched(topic, 30)
    consumer = client.subscribe(topic, "seeker", initial_position=pulsar.InitialPosition.Earliest)
    received = [consumer.receive(timeout_millis=10000) for _ in range(30)]
    for message in received:
        consumer.acknowledge(message)
    consumer.seek(received[15].message_id())
    message = consumer.receive(timeout_millis=10000)
    assert message.data() in (b"m15", b"m16"), message.data()
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
    consumer = client.subscribe(re.compile("persistent://public/default/pattern-.*"), "p",
                                initial_position=pulsar.InitialPosition.Earliest)
    got = sorted(consumer.receive(timeout_millis=10000).data() for _ in range(2))
    assert got == [b"m0", b"m0"], got
elif feature == "failover":
    produce(topic, 0)
    # The consumer named "a" ranks first and is active; "b" waits.
    standby = client.subscribe(topic, "fo", consumer_type=pulsar.ConsumerType.Failover, consumer_name="b",
                               initial_position=pulsar.InitialPosition.Earliest)
    active = client.subscribe(topic, "fo", consumer_type=pulsar.ConsumerType.Failover, consumer_name="a",
                              initial_position=pulsar.InitialPosition.Earliest)
    time.sleep(0.5)
    produce(topic, 20)
    got = [active.receive(timeout_millis=10000).data().decode() for _ in range(20)]
    assert got == ["m%d" % i for i in range(20)], got
    try:
        message = standby.receive(timeout_millis=1000)
        raise AssertionError("the standby consumer received %s" % message.data())
    except pulsar.Timeout:
        pass
    # Nothing acked: when the active consumer goes, the standby gets all of it.
    active.close()
    taken = sorted(int(standby.receive(timeout_millis=10000).data()[1:]) for _ in range(20))
    assert taken == list(range(20)), taken
    standby.close()
elif feature == "batch-index-ack":
    produce_batched(topic, 10)
    consumer = client.subscribe(topic, "bia", consumer_type=pulsar.ConsumerType.Shared, batch_index_ack_enabled=True,
                                initial_position=pulsar.InitialPosition.Earliest)
    messages = [consumer.receive(timeout_millis=10000) for _ in range(10)]
    assert len({(m.message_id().ledger_id(), m.message_id().entry_id()) for m in messages}) == 1, "not one batch"
    for message in messages[::2]:
        consumer.acknowledge(message)
    time.sleep(0.5)
    consumer.close()
    # Only the messages of the batch not acked come back.
    consumer = client.subscribe(topic, "bia", consumer_type=pulsar.ConsumerType.Shared, batch_index_ack_enabled=True)
    again = []
    while True:
        try:
            again.append(consumer.receive(timeout_millis=2000).data().decode())
        except pulsar.Timeout:
            break
    assert again == ["m%d" % i for i in range(1, 10, 2)], again
    consumer.close()
elif feature == "wait-for-exclusive":
    first = client.create_producer(topic, access_mode=pulsar.ProducerAccessMode.Exclusive)
    waiting = {}

    def create():
        waiting["producer"] = client.create_producer(topic, access_mode=pulsar.ProducerAccessMode.WaitForExclusive)
    thread = threading.Thread(target=create)
    thread.start()
    thread.join(1.5)
    assert thread.is_alive(), "a WaitForExclusive producer got in while another held the topic"
    first.send(b"from-first")
    first.close()
    thread.join(15)
    assert "producer" in waiting, "the waiting producer was not let in"
    waiting["producer"].send(b"from-second")
    waiting["producer"].close()
elif feature == "exclusive-with-fencing":
    old = client.create_producer(topic, send_timeout_millis=3000)
    old.send(b"before")
    fencer = client.create_producer(topic, access_mode=pulsar.ProducerAccessMode.ExclusiveWithFencing)
    fencer.send(b"fencer")
    try:
        old.send(b"after")
        raise AssertionError("a fenced producer could still send")
    except Exception as error:
        assert isinstance(error, pulsar.ProducerFenced), repr(error)
    fencer.close()
elif feature == "fenced-stays-fenced":
    # The fenced producer reconnects with its topic epoch; when the fencer has gone, the
    # epoch it holds is past, and it is refused instead of taking the topic back.
    old = client.create_producer(topic, access_mode=pulsar.ProducerAccessMode.Exclusive, send_timeout_millis=5000)
    old.send(b"before")
    fencer = client.create_producer(topic, access_mode=pulsar.ProducerAccessMode.ExclusiveWithFencing)
    fencer.send(b"fencer")
    fencer.close()
    time.sleep(1)
    try:
        old.send(b"after")
        raise AssertionError("a fenced producer took the topic back")
    except Exception as error:
        assert isinstance(error, pulsar.ProducerFenced), repr(error)
    reader = client.create_reader(topic, pulsar.MessageId.earliest)
    got = []
    while reader.has_message_available():
        got.append(reader.read_next(timeout_millis=5000).data())
    assert got == [b"before", b"fencer"], got
elif feature == "http-lookup":
    http_client = pulsar.Client(http_url, operation_timeout_seconds=20)
    producer = http_client.create_producer(topic)
    consumer = http_client.subscribe(topic, "over-http")
    producer.send(b"looked-up")
    assert consumer.receive(timeout_millis=10000).data() == b"looked-up"
    http_client.close()
else:
    raise SystemExit("unknown feature " + feature)
client.close()
print("OK " + feature)
