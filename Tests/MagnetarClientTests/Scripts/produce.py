"""Produces COUNT batched messages with the real Pulsar client.

usage: produce.py SERVICE_URL TOPIC COMPRESSION(lz4|zstd|none) COUNT [BATCHING(default|keybased|none)]
Message i is "py-i" with key "k<i mod 5>" and property i=<i>. Prints "OK" when all
were receipted.
"""
import sys

import pulsar

service_url, topic, compression, count = sys.argv[1:5]
batching = sys.argv[5] if len(sys.argv) > 5 else "default"
count = int(count)
compressions = {"lz4": pulsar.CompressionType.LZ4, "zstd": pulsar.CompressionType.ZSTD, "none": pulsar.CompressionType.NONE}
client = pulsar.Client(service_url, operation_timeout_seconds=20, logger=pulsar.ConsoleLogger(pulsar.LoggerLevel.Error))
producer = client.create_producer(
    topic, batching_enabled=batching != "none", batching_max_publish_delay_ms=5, compression_type=compressions[compression],
    block_if_queue_full=True,
    batching_type=pulsar.BatchingType.KeyBased if batching == "keybased" else pulsar.BatchingType.Default,
)
results = []
for i in range(count):
    producer.send_async(("py-%d" % i).encode(), lambda result, _: results.append(result), partition_key="k%d" % (i % 5), properties={"i": str(i)})
producer.flush()
assert len(results) == count and all(r == pulsar.Result.Ok for r in results), results[:5]
producer.close()
client.close()
print("OK", flush=True)
