#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Written for this project in the style of the kernel's selftests/net set-up functions:
# iproute2's abbreviations (`-net`, `-ne`, `ro`, `li`, `l s`, `a a`, `nei`, `ru`, `unr`,
# `txql`, `pri`, `ta`), link MTU and queue length, and the flushes.

ns1="ns1-$(mktemp -u XXXXXX)"
ns2="ns2-$(mktemp -u XXXXXX)"

setup()
{
	set -e
	ip netns add $ns1
	ip netns add $ns2
	ip -net $ns1 li set lo up
	ip -ne $ns2 l s dev lo up
	ip -netns $ns1 link add veth1 mtu 9000 type veth peer name veth2 netns $ns2 mtu 9000
	ip -n $ns1 li set veth1 up txql 500
	ip -n $ns2 link set veth2 up
	ip -n $ns2 link set veth2 qlen 2000 mtu 1400
	ip -n $ns1 a a 192.0.2.1/24 dev veth1
	ip -n $ns1 addr add 192.0.2.5/24 dev veth1
	ip -n $ns2 addr add 192.0.2.2/24 dev veth2
	ip -n $ns1 ro a 198.51.100.0/24 via 192.0.2.2
	ip -n $ns1 r add unr 203.0.113.0/24
	ip -n $ns1 ro add 198.18.0.0/24 via 192.0.2.2 table 100
	ip -n $ns1 ro add 198.18.1.0/24 via 192.0.2.2 table 100 p 7
	ip -n $ns1 ru a pri 100 ta 100
	ip -n $ns1 nei a 192.0.2.9 lladdr 02:00:00:00:00:09 dev veth1
	ip -n $ns1 nei add 192.0.2.10 lladdr 02:00:00:00:00:0a dev veth1 nud stale
	ip -n $ns1 neigh flush dev veth1
	ip -n $ns2 nei add 192.0.2.11 lladdr 02:00:00:00:00:0b dev veth2
	ip -n $ns2 neigh flush dev veth2 nud permanent
	ip -n $ns1 addr flush dev veth1 to 192.0.2.5/32
	ip -n $ns1 ro flush table 100 pri 7
	ip -n $ns2 ru flush
	ip netns exec $ns2 ifconfig veth2 mtu 1500
	set +e
}

setup
