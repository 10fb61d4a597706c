// Package clientaddr holds how backchannel tells who sent a request: the
// client's address behind the reverse proxies the operator trusts, and the
// key a rate limit counts it under.
package clientaddr

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// From is the address of the client that sent r. It is the peer's
// address, unless the peer is one of trusted (a reverse proxy or load
// balancer the operator runs): then it is the right-most address in
// X-Forwarded-For that is not itself trusted. Headers from untrusted peers
// are ignored, since anyone can write them. The zero Addr means unknown.
func From(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer := peerOf(r)
	if !isTrusted(peer, trusted) {
		return peer
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a garbled hop: trust nothing further left
		}
		a = a.Unmap()
		if !isTrusted(a, trusted) {
			return a
		}
		peer = a
	}
	return peer
}

// Key is the rate-limit key of a client address: the address for
// IPv4, its /64 for IPv6 (one subscriber usually holds a whole /64).
func Key(a netip.Addr) string {
	if !a.IsValid() {
		return "unknown"
	}
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

func peerOf(r *http.Request) netip.Addr {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ap.Addr().Unmap()
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// FromTrustedProxy reports whether r came straight from one of trusted (a
// reverse proxy or load balancer the operator runs), whose X-Forwarded-*
// headers may be believed.
func FromTrustedProxy(r *http.Request, trusted []netip.Prefix) bool {
	return isTrusted(peerOf(r), trusted)
}
