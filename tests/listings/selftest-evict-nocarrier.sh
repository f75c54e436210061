#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Written for this project in the shape of the kernel's
# tools/testing/selftests/net/arp_ndisc_evict_nocarrier.sh: a set-up function that takes
# a sysctl as its argument and acts at its end (a ping, a neighbour lookup, then the
# peer's link set down), called once per test between tear-downs, with other arguments
# each time.  Each call is one episode: its own topology, the link-down a step.

source lib.sh

readonly ADDR_A=10.0.10.1
readonly ADDR_B=10.0.10.2

start()
{
	setup_ns PEER
	ip link add name veth0 type veth peer name veth1
	ip link set dev veth0 up
	ip link set dev veth1 netns "${PEER}"
	ip netns exec "${PEER}" ip link set dev veth1 up
	ip addr add $ADDR_A/24 dev veth0
	ip netns exec "${PEER}" ip addr add $ADDR_B/24 dev veth1
	ip route add 198.18.5.0/24 via $ADDR_B dev veth0

	sysctl -w "$1" >/dev/null 2>&1

	# an ARP entry for the peer, then the peer's end down: veth0 loses its carrier
	ping -c1 -I veth0 $ADDR_B -q >/dev/null 2>&1
	ip neigh get $ADDR_B dev veth0 >/dev/null 2>&1
	if [ $? -ne 0 ]; then
		cleanup
		exit 1
	fi
	ip netns exec "${PEER}" ip link set veth1 down
}

cleanup()
{
	ip link del veth0
	cleanup_ns $PEER
}

evict_on()
{
	start "net.ipv4.conf.veth0.arp_evict_nocarrier=1"
	ip neigh get $ADDR_B dev veth0 >/dev/null 2>&1
	[ $? -eq 0 ] && ret=1
	cleanup
}

evict_off()
{
	start "net.ipv4.conf.veth0.arp_evict_nocarrier=0"
	ip neigh get $ADDR_B dev veth0 >/dev/null 2>&1
	[ $? -ne 0 ] && ret=1
	cleanup
}

evict_off_all()
{
	start "net.ipv4.conf.all.arp_evict_nocarrier=0"
	ip neigh get $ADDR_B dev veth0 >/dev/null 2>&1
	[ $? -ne 0 ] && ret=1
	cleanup
}

evict_on
evict_off
evict_off_all
exit $ret
