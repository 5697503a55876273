"""The lab: ``containerlab.yml`` built into Linux network namespaces.

``topology`` parses and validates the file; ``runner`` builds and removes the
namespaces, links and daemons (``frr`` drives FRR inside a namespace,
``shell`` runs commands, ``rundir`` holds paths and the lock); ``status``
reports nodes, links and BGP sessions; ``traffic`` (with ``worker`` running
inside the namespaces) sends bounded test traffic and reads the nftables
counters; ``expect`` polls a router's JSON for a subset; ``peer`` runs a raw
ExaBGP speaker in a lab node; ``handle`` bundles all of it for tests. ``uml``
runs a command inside a user-mode Linux guest, for kernels without GRE.
"""
