#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Written for this project in the style of the kernel's selftests/net/icmp_redirect.sh
# set-up: fixed namespace names, `li`/`ro` abbreviations, links moved and renamed on
# the way (`li set X netns NS name Y up`), `addr add dev IF ADDR`, a bridge, a
# macvlan, blackhole/unreachable routes, a proxy neighbour, policy rules, a
# conf.default sysctl set before the links exist, a macvlan's own sysctl (also of
# one with a dot in its name), a `case` and an `if`.

WITH_VRF=no
H1_N1_IP=172.16.1.1
R1_N1_IP=172.16.1.253
R2_N1_IP=172.16.1.254
R1_R2_N1_IP=172.16.10.1
R2_R1_N1_IP=172.16.10.2
H2_N2_IP=172.16.2.2
H2_N2_IP6=2001:db8:2::2
R2_N2_IP6=2001:db8:2::1

create_ns()
{
	local ns=$1

	ip netns add ${ns}
	ip -netns ${ns} link set lo up
	ip netns exec ${ns} sysctl -qw net.ipv4.conf.default.rp_filter=2
	case ${ns} in
	r[12])	ip netns exec ${ns} sysctl -qw net.ipv4.ip_forward=1 ;;
	h*)	ip netns exec ${ns} sysctl -qw net.ipv4.conf.all.accept_redirects=1
		;;
	esac
}

setup()
{
	set -e
	for n in h1 r1 r2 h2; do create_ns ${n}; done
	ip netns exec r1 sysctl -qw net.ipv4.conf.default.accept_redirects=0

	ip -netns h1 li add eth0 type veth peer name r1h1
	ip -netns h1 li set r1h1 netns r1 name eth0 up
	ip -netns h1 li add eth1 type veth peer name r2h1
	ip -netns h1 li set r2h1 netns r2 name eth0 up
	ip -netns r1 li add eth1 type veth peer name r2r1
	ip -netns r1 li set r2r1 netns r2 name eth1 up
	ip -netns r2 li add eth2 type veth peer name h2eth0
	ip -netns r2 li set h2eth0 netns h2 name eth0 up

	if [ "${WITH_VRF}" = "yes" ]; then
		ip -netns h1 li add red type vrf table 1111
	else
		ip -netns h1 li add br0 type bridge
	fi
	ip -netns h1 li set eth0 master br0
	ip -netns h1 li set eth1 master br0
	ip -netns h1 li set eth0 up
	ip -netns h1 li set eth1 up
	ip -netns h1 li set br0 up
	ip -netns h1 addr add dev br0 ${H1_N1_IP}/24

	ip -netns r1 addr add dev eth0 ${R1_N1_IP}/24
	ip -netns r2 addr add dev eth0 ${R2_N1_IP}/24
	ip -netns r1 addr add dev eth1 ${R1_R2_N1_IP}/30
	ip -netns r2 addr add dev eth1 ${R2_R1_N1_IP}/30
	ip -netns r1 li set eth1 up
	ip -netns r2 addr add dev eth2 172.16.2.1/24
	ip -netns r2 -6 addr add dev eth2 ${R2_N2_IP6}/64 nodad
	ip -netns r2 li set eth2 up
	ip -netns h2 addr add dev eth0 ${H2_N2_IP}/24
	ip -netns h2 -6 addr add dev eth0 ${H2_N2_IP6}/64 nodad
	ip -netns h2 li add link eth0 name mv0 type macvlan mode bridge
	ip -netns h2 addr add dev mv0 172.16.2.3/24
	ip -netns h2 li set mv0 up
	ip -netns h2 li add mv1 link eth0 type macvlan
	ip netns exec h2 sysctl -qw net.ipv4.conf.mv0.arp_ignore=1
	ip -netns h2 li add link eth0 name mv0.5 type macvlan
	ip netns exec h2 sysctl -qw net/ipv4/conf/mv0.5/arp_ignore=2

	ip netns exec r2 sysctl -q -w net.ipv6.conf.all.forwarding=1 net.ipv4.ip_forward=1
	ip netns exec r1 sysctl -qw net.ipv4.conf.all.send_redirects=1

	ip -netns h1 ro add default via ${R1_N1_IP}
	ip -netns r1 ro add 172.16.2.0/24 via ${R2_R1_N1_IP}
	ip -netns r1 route add unreachable 10.99.0.0/16
	ip -netns r1 route add blackhole 10.98.0.0/16
	ip -netns r1 neigh add proxy 172.16.1.99 dev eth0
	ip -netns h2 ro add default via 172.16.2.1
	ip -netns h2 -6 ro add default via ${R2_N2_IP6} dev eth0
	ip -netns r2 rule add to 172.16.1.0/24 lookup 200 pref 200
	# Without pref: the kernel's pick depends on the rules there at that moment,
	# a deleted one included.
	ip -netns r2 rule add fwmark 1 table 10
	ip -netns r2 rule add fwmark 2 table 20
	ip -netns r2 rule del fwmark 1
	ip -netns r2 rule add fwmark 3 table 30
	ip -netns r2 ro add 172.16.1.0/24 dev eth0 table 200
	ip -netns r2 ro add 172.16.1.0/24 via 172.16.10.1 dev eth1 metric 100
	ip -netns r2 ro del 172.16.1.0/24 via 172.16.10.1 dev eth1 metric 100
	set +e
}

setup
