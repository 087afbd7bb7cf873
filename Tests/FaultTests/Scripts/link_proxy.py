"""TCP proxies whose links can be cut, for network partitions between processes.

usage: link_proxy.py LISTEN_PORT:TARGET_PORT [...]   (all on 127.0.0.1)

SIGUSR1 cuts every link: no byte moves either way, on open connections or new ones (new
connections are accepted but not forwarded), as when packets are dropped; TCP on both
sides waits and retransmits. SIGUSR2 heals: the held bytes flow on and new connections
are forwarded. Prints "proxy ready" once listening.
"""
import asyncio
import signal
import sys


async def main():
    links = [tuple(int(port) for port in pair.split(":")) for pair in sys.argv[1:]]
    open_ = asyncio.Event()
    open_.set()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, open_.clear)
    loop.add_signal_handler(signal.SIGUSR2, open_.set)

    async def pump(reader, writer):
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                await open_.wait()
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            try:
                writer.close()
            except Exception:
                pass

    def serve(target):
        async def handle(client_reader, client_writer):
            await open_.wait()
            try:
                upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", target)
            except OSError:
                client_writer.close()
                return
            await asyncio.gather(pump(client_reader, upstream_writer), pump(upstream_reader, client_writer))
        return handle

    servers = [await asyncio.start_server(serve(target), "127.0.0.1", listen, reuse_address=True) for listen, target in links]
    print("proxy ready", flush=True)
    await asyncio.gather(*(server.serve_forever() for server in servers))


asyncio.run(main())
