#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Written for this project in the style of the kernel's selftests/net/fib_nexthops.sh
# set-up: a multipath route, nexthop objects and a group, IPv6 routes appended and
# prepended to one prefix (the kernel joins them as one multipath route), a route flush.

h="h-$(mktemp -u XXXXXX)"
r="r-$(mktemp -u XXXXXX)"

setup()
{
	set -e
	ip netns add $h
	ip netns add $r
	ip -n $h link add veth1 type veth peer name veth1r netns $r
	ip -n $h link add veth2 type veth peer name veth2r netns $r
	ip -n $h link set veth1 up
	ip -n $h link set veth2 up
	ip -n $r link set veth1r up
	ip -n $r link set veth2r up
	ip -n $h addr add 192.0.2.1/24 dev veth1
	ip -n $h addr add 198.51.100.1/24 dev veth2
	ip -n $h -6 addr add 2001:db8:1::1/64 dev veth1 nodad
	ip -n $h -6 addr add 2001:db8:2::1/64 dev veth2 nodad
	ip -n $h route add 203.0.113.0/24 nexthop via 192.0.2.2 dev veth1 weight 2 nexthop via 198.51.100.2 dev veth2
	ip -n $h nexthop add id 1 via 192.0.2.2 dev veth1
	ip -n $h nexth add id 2 via 198.51.100.2 dev veth2
	ip -n $h nexthop add id 10 group 1/2
	ip -n $h ro add 198.18.1.0/24 nhid 10
	ip -n $h -6 route add 2001:db8:9::/64 via 2001:db8:1::2
	ip -n $h -6 route append 2001:db8:9::/64 via 2001:db8:2::2
	ip -n $h -6 ro prepend 2001:db8:9::/64 via 2001:db8:2::3
	ip -n $h route append 198.18.2.0/24 via 192.0.2.2
	ip -n $h route flush dev veth2
	set +e
}

setup
