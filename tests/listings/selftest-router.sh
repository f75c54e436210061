#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Written for this project in the style of the kernel's tools/testing/selftests/net
# scripts: names made unique with mktemp, `ip -netns` through a variable, a set-up
# function with a loop, a clean-up function.  Two hosts and a router, IPv4 and IPv6.

ns1="ns1-$(mktemp -u XXXXXX)"
ns2="ns2-$(mktemp -u XXXXXX)"
rtr="rtr-$(mktemp -u XXXXXX)"
IP1="ip -netns $ns1"
H1_IP=172.16.1.1
R1_IP=172.16.1.254

cleanup()
{
	ip netns del $ns1 2>/dev/null
	ip netns del $ns2 2>/dev/null
	ip netns del $rtr 2>/dev/null
}

setup()
{
	set -e
	for ns in $ns1 $ns2 $rtr; do
		ip netns add $ns
		ip -netns $ns link set lo up
	done
	ip netns set $ns1 auto
	ip netns exec $rtr sysctl -qw net.ipv6.conf.default.hop_limit=32

	ip link add veth1 netns $ns1 type veth peer name r1 netns $rtr
	ip -netns $ns2 link add veth2 type veth peer name r2
	ip -netns $ns2 link set r2 netns $rtr up
	$IP1 addr add $H1_IP/24 dev veth1
	$IP1 -6 addr add 2001:db8:1::1/64 dev veth1 nodad
	$IP1 link set veth1 up
	ip -n $rtr addr add $R1_IP/24 dev r1
	ip -n $rtr -6 addr add 2001:db8:1::2/64 dev r1 nodad
	ip -n $rtr addr add 10.20.0.254/16 brd + dev r2
	ip -n $rtr -6 addr add fd00:20::fe/64 dev r2 nodad
	ip -n $rtr link set r1 up
	ip -n $ns2 addr add 10.20.3.4/16 dev veth2
	ip -n $ns2 -6 addr add fd00:20::4/64 dev veth2 nodad
	ip -n $ns2 li set veth2 up
	ip netns exec $rtr sysctl -qw net.ipv4.ip_forward=1
	ip netns exec $rtr sysctl -qw net.ipv6.conf.all.forwarding=1
	$IP1 route add default via $R1_IP
	$IP1 -6 ro add default via 2001:db8:1::2
	ip -n $ns2 route add 172.16.1.0/24 via 10.20.0.254 dev veth2 metric 10
	ip -n $ns2 -6 route add 2001:db8:1::/64 via fd00:20::fe
	ip -n $ns2 rule add from 10.20.3.4 table 100 pref 100
	ip -n $ns2 route add default via 10.20.0.254 table 100
	ip -n $ns2 neigh add 10.20.0.254 lladdr 02:00:00:00:00:fe dev veth2 nud permanent
	ip -n $ns2 link set veth2 mtu 1400
	set +e
}

trap cleanup EXIT
setup
