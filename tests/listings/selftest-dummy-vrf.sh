#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Written for this project in the style of the kernel's selftests/net/fib_tests.sh
# set-up: one namespace through `$IP`, dummy devices and a VRF (kernels without
# dummy or VRF skip the comparison).

ns1="ns1-$(mktemp -u XXXXXX)"
IP="ip -netns $ns1"

setup()
{
	set -e
	ip netns add $ns1
	$IP link set dev lo up
	ip netns exec $ns1 sysctl -qw net.ipv4.ip_forward=1
	$IP link add dummy0 type dummy
	$IP link set dev dummy0 up
	$IP address add 198.51.100.1/24 dev dummy0
	$IP -6 address add 2001:db8:1::1/64 dev dummy0 nodad
	$IP link add red type vrf table 1111
	$IP link set dev red up
	$IP link add dummy1 type dummy
	$IP link set dummy1 master red
	$IP link set dev dummy1 up
	$IP address add 192.0.2.1/24 dev dummy1
	$IP route add vrf red 198.18.7.0/24 dev dummy1
	$IP route add 203.0.113.0/24 dev dummy1 table 1111
	$IP rule add pref 32765 table local
	$IP rule del pref 0
	set +e
}

setup
