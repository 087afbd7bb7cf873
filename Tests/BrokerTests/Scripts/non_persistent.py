"""Non-persistent topics with the real client: each message reaches the consumers
connected when it is published, on every subscription type; what is published while
no one listens is gone; pattern consumers find non-persistent topics by mode. Prints
OK and exits 0 when every check holds.

usage: non_persistent.py SERVICE_URL HTTP_URL
"""
import json
import re
import sys
import time

import urllib.request

import pulsar

service_url, http_url = sys.argv[1:3]
client = pulsar.Client(service_url, operation_timeout_seconds=20)
topic = "non-persistent://public/default/np-events"


def receive_all(consumer, count):
    got = []
    for _ in range(count):
        message = consumer.receive(timeout_millis=10000)
        got.append(message.data().decode())
        consumer.acknowledge(message)
    return got


def nothing_more(consumer):
    try:
        message = consumer.receive(timeout_millis=1000)
        raise AssertionError("unexpected %s" % message.data().decode())
    except pulsar.Timeout:
        pass


exclusive = client.subscribe(topic, "exclusive")
shared = [client.subscribe(topic, "shared", consumer_type=pulsar.ConsumerType.Shared) for _ in range(2)]
failover = client.subscribe(topic, "failover", consumer_type=pulsar.ConsumerType.Failover)
key_shared = client.subscribe(topic, "key-shared", consumer_type=pulsar.ConsumerType.KeyShared)
producer = client.create_producer(topic, batching_enabled=False)
for i in range(100):
    producer.send(("m%d" % i).encode(), partition_key="k%d" % (i % 5))
expected = ["m%d" % i for i in range(100)]
assert receive_all(exclusive, 100) == expected, "exclusive"
assert receive_all(failover, 100) == expected, "failover"
assert sorted(receive_all(key_shared, 100)) == sorted(expected), "key_shared"
shared_got = []
deadline = time.time() + 10
while len(shared_got) < 100 and time.time() < deadline:
    for consumer in shared:
        try:
            message = consumer.receive(timeout_millis=100)
            shared_got.append(message.data().decode())
            consumer.acknowledge(message)
        except pulsar.Timeout:
            pass
assert sorted(shared_got) == sorted(expected), "shared got %d" % len(shared_got)
for consumer in [exclusive, failover, key_shared] + shared:
    consumer.close()

# No one listening: published, receipted, and gone.
for i in range(10):
    producer.send(("gone%d" % i).encode())
late = client.subscribe(topic, "late", initial_position=pulsar.InitialPosition.Earliest)
nothing_more(late)
producer.send(b"after")
assert late.receive(timeout_millis=10000).data() == b"after"
print("LIVE", flush=True)

# The admin API lists the topic while it is used, and shows its stats.
listed = json.load(urllib.request.urlopen(http_url + "/admin/v2/non-persistent/public/default"))
assert topic in listed, listed
stats = json.load(urllib.request.urlopen(http_url + "/admin/v2/non-persistent/public/default/np-events/stats"))
assert stats["msgInCounter"] == 111 and "late" in stats["subscriptions"], stats
# Pulsar's metrics count it with the namespace's topics.
metrics = urllib.request.urlopen(http_url + "/metrics").read().decode()
series = [line for line in metrics.splitlines()
          if line.startswith("pulsar_in_messages_total{") and 'namespace="public/default"' in line]
assert series and float(series[0].split()[-1]) == 111, series

# A pattern consumer in non-persistent mode finds both topics in use; one in persistent
# mode finds none of them. (The Python client does not pass its discovery period on, so
# discovery runs every minute: the topics exist before the pattern consumers.)
other = client.create_producer("non-persistent://public/default/np-other", batching_enabled=False)
pattern = client.subscribe(re.compile("non-persistent://public/default/np-.*"), "pattern",
                           regex_subscription_mode=pulsar.RegexSubscriptionMode.NonPersistentOnly)
persistent_only = client.subscribe(re.compile("public/default/np-.*"), "pattern",
                                   regex_subscription_mode=pulsar.RegexSubscriptionMode.PersistentOnly)
got = set()
deadline = time.time() + 20
while got != {"p1", "o1"} and time.time() < deadline:
    producer.send(b"p1")
    other.send(b"o1")
    try:
        while True:
            got.add(pattern.receive(timeout_millis=300).data().decode())
    except pulsar.Timeout:
        pass
assert got == {"p1", "o1"}, got
nothing_more(persistent_only)
# A partitioned non-persistent topic: its partition count is its own (the persistent
# topic of the same name has none), and its partitions carry messages like any other.
parted = "non-persistent://public/default/np-parted"
request = urllib.request.Request(http_url + "/admin/v2/non-persistent/public/default/np-parted/partitions",
                                 data=b"3", method="PUT", headers={"Content-Type": "application/json"})
assert urllib.request.urlopen(request).status == 204
assert client.get_topic_partitions(parted) == [parted + "-partition-%d" % i for i in range(3)], client.get_topic_partitions(parted)
assert client.get_topic_partitions("persistent://public/default/np-parted") == ["persistent://public/default/np-parted"]
listed = json.load(urllib.request.urlopen(http_url + "/admin/v2/non-persistent/public/default/partitioned"))
assert listed == [parted], listed
parted_consumer = client.subscribe(parted, "all-partitions")
parted_producer = client.create_producer(parted, batching_enabled=False,
                                         message_routing_mode=pulsar.PartitionsRoutingMode.RoundRobinDistribution)
for i in range(30):
    parted_producer.send(("q%d" % i).encode())
assert sorted(receive_all(parted_consumer, 30)) == sorted("q%d" % i for i in range(30)), "partitioned"
parted_stats = [json.load(urllib.request.urlopen(http_url + "/admin/v2/non-persistent/public/default/np-parted-partition-%d/stats" % i))
                for i in range(3)]
assert [s["msgInCounter"] for s in parted_stats] == [10, 10, 10], [s["msgInCounter"] for s in parted_stats]
parted_producer.close()
parted_consumer.close()
request = urllib.request.Request(http_url + "/admin/v2/non-persistent/public/default/np-parted/partitions", method="DELETE")
assert urllib.request.urlopen(request).status == 204
assert json.load(urllib.request.urlopen(http_url + "/admin/v2/non-persistent/public/default/partitioned")) == []
print("PARTITIONED", flush=True)

# Seeks have nothing to go back to.
try:
    late.seek(pulsar.MessageId.earliest)
    raise AssertionError("a seek on a non-persistent topic was accepted")
except pulsar.PulsarException as error:
    print("SEEK %s" % type(error).__name__, flush=True)
client.close()
print("OK", flush=True)
