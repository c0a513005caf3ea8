#!/usr/bin/env python3
"""A tiny TCP round-robin proxy on loopback (standard library only), a
stand-in for HAProxy in ``mode tcp`` + ``balance roundrobin`` in front of
a Galera cluster: each new client connection goes to the next backend
(skipping one that refuses), then bytes are copied both ways.

    tools/tcp-round-robin.py --listen 127.0.0.1:4300 \\
        127.0.0.1:4306 127.0.0.1:4307 127.0.0.1:4308

Used to benchmark placement against all nodes of tools/galera-cluster.sh
through one database URL (see README, "Running on a Galera cluster").
It stops on SIGTERM/SIGINT.
"""

import argparse
import asyncio
import itertools
import signal


def parse_addr(text):
    host, _, port = text.rpartition(':')
    return host or '127.0.0.1', int(port)


async def pipe(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        try:
            writer.close()
        except Exception:  # already gone
            pass


async def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--listen', default='127.0.0.1:4300')
    parser.add_argument('backends', nargs='+', help='host:port')
    args = parser.parse_args()
    backends = [parse_addr(b) for b in args.backends]
    order = itertools.cycle(range(len(backends)))

    async def handle(client_reader, client_writer):
        for _ in range(len(backends)):
            host, port = backends[next(order)]
            try:
                up_reader, up_writer = await asyncio.open_connection(
                    host, port)
                break
            except OSError:
                continue
        else:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, up_writer),
                             pipe(up_reader, client_writer))

    host, port = parse_addr(args.listen)
    server = await asyncio.start_server(handle, host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print('proxy listening on %s:%d -> %s' % (
        host, port, ' '.join('%s:%d' % b for b in backends)), flush=True)
    async with server:
        await stop.wait()


if __name__ == '__main__':
    asyncio.run(main())
