// Package hostaddr finds the machine's own address on its network, for
// the join address people in the room open when no public address is
// configured: never loopback, and never anything a request says.
package hostaddr

import (
	"net"
	"net/netip"
	"os"
	"strconv"
)

// Primary is the machine's address on its network: the first IPv4
// address of the first up, non-loopback interface (link-local skipped);
// failing that, the first such global IPv6 address. ok is false when the
// machine has none.
func Primary() (addr netip.Addr, ok bool) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return netip.Addr{}, false
	}
	var v6 netip.Addr
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			pfx, err := netip.ParsePrefix(a.String())
			if err != nil {
				continue
			}
			ip := pfx.Addr().Unmap()
			if ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsUnspecified() || ip.IsMulticast() {
				continue
			}
			if ip.Is4() {
				return ip, true
			}
			if !v6.IsValid() {
				v6 = ip
			}
		}
	}
	return v6, v6.IsValid()
}

// BaseURL is "http://ADDRESS:port" with the machine's Primary address,
// or its host name when it has none (detected is then false). port is the
// port the server listens on; "" or "80" leaves it out.
func BaseURL(port string) (base string, detected bool) {
	host := ""
	if a, ok := Primary(); ok {
		host, detected = a.String(), true
	} else if h, err := os.Hostname(); err == nil && h != "" {
		host = h
	} else {
		host = "localhost"
	}
	if port == "" || port == "80" {
		if a, err := netip.ParseAddr(host); err == nil && a.Is6() {
			return "http://[" + host + "]", detected
		}
		return "http://" + host, detected
	}
	return "http://" + net.JoinHostPort(host, port), detected
}

// PortOf is the port of a listen or socket address ("[::]:8080" -> "8080"),
// or "" when it has none.
func PortOf(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	if _, err := strconv.Atoi(port); err != nil {
		return ""
	}
	return port
}
