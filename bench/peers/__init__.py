"""The peer benchmark's parts: a scripted list/watch server and the client programs.

``bench/bench_peers.py`` drives them: ``server`` serves pre-serialized pod
lists and watch streams (one listening port per workload), ``client`` runs one
Python client (kubecache, the official client, kubernetes_asyncio, the raw
floors) against it in its own process, ``node/`` holds the Node.js client.
"""
